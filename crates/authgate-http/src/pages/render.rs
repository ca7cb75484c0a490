//! Rendering the hosted pages: the templates (built in or the operator's,
//! parsed once, autoescaped as HTML), their texts in each locale, the
//! locale of a request, and the headers every page carries.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use minijinja::Environment;
use rand::RngCore;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, OnceLock};

/// The built-in templates, by name.
const TEMPLATES: [(&str, &str); 15] = [
    ("base.html", include_str!("templates/base.html")),
    ("sign_in.html", include_str!("templates/sign_in.html")),
    ("totp.html", include_str!("templates/totp.html")),
    ("error.html", include_str!("templates/error.html")),
    ("sign_out.html", include_str!("templates/sign_out.html")),
    ("signed_out.html", include_str!("templates/signed_out.html")),
    ("consent.html", include_str!("templates/consent.html")),
    ("sign_up.html", include_str!("templates/sign_up.html")),
    ("confirm.html", include_str!("templates/confirm.html")),
    ("forgot.html", include_str!("templates/forgot.html")),
    ("reset.html", include_str!("templates/reset.html")),
    (
        "new_password.html",
        include_str!("templates/new_password.html"),
    ),
    ("totp_setup.html", include_str!("templates/totp_setup.html")),
    (
        "recovery_codes.html",
        include_str!("templates/recovery_codes.html"),
    ),
    (
        "passkey_offer.html",
        include_str!("templates/passkey_offer.html"),
    ),
];

/// The built-in texts, by locale: English, and German to prove the
/// mechanism. Every locale has every key of English (a test checks).
const TEXTS: [(&str, &str); 2] = [
    ("en", include_str!("texts/en.json")),
    ("de", include_str!("texts/de.json")),
];

/// The locale of a page when nothing asks for another.
pub const DEFAULT_LOCALE: &str = "en";

/// The texts of one locale: the pages' texts by key, and translations of
/// the services' refusal messages (keyed by their English text).
#[derive(Debug, Clone, Default)]
struct Locale {
    texts: BTreeMap<String, String>,
    messages: BTreeMap<String, String>,
}

impl Locale {
    /// Parse a texts file: a JSON object of strings, and an optional
    /// `messages` object of strings.
    fn parse(source: &str) -> Result<Self, String> {
        let value: serde_json::Value =
            serde_json::from_str(source).map_err(|e| format!("not JSON: {e}"))?;
        let serde_json::Value::Object(entries) = value else {
            return Err("not a JSON object".into());
        };
        let mut locale = Locale::default();
        for (key, value) in entries {
            match (key.as_str(), value) {
                ("messages", serde_json::Value::Object(messages)) => {
                    for (english, value) in messages {
                        let serde_json::Value::String(text) = value else {
                            return Err(format!("messages.{english:?} is not a string"));
                        };
                        locale.messages.insert(english, text);
                    }
                }
                (_, serde_json::Value::String(text)) => {
                    locale.texts.insert(key, text);
                }
                _ => return Err(format!("{key:?} is not a string")),
            }
        }
        Ok(locale)
    }
}

/// The pages' templates, texts and stylesheet: built in, with the
/// operator's overrides (`AUTHGATE_PAGES_DIR`) laid over them.
pub struct Pages {
    environment: Environment<'static>,
    locales: BTreeMap<String, Locale>,
    stylesheet: String,
}

impl std::fmt::Debug for Pages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pages")
            .field("locales", &self.locales.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Pages {
    /// The built-in pages (a test renders each template in each locale).
    pub fn built_in() -> Arc<Pages> {
        static BUILT_IN: OnceLock<Arc<Pages>> = OnceLock::new();
        BUILT_IN
            .get_or_init(|| {
                let mut environment = Environment::new();
                for (name, source) in TEMPLATES {
                    if let Err(err) = environment.add_template(name, source) {
                        tracing::error!(template = name, error = %err, "a built-in template does not parse");
                    }
                }
                let mut locales = BTreeMap::new();
                for (name, source) in TEXTS {
                    match Locale::parse(source) {
                        Ok(locale) => {
                            locales.insert(name.to_string(), locale);
                        }
                        Err(err) => {
                            tracing::error!(locale = name, error = %err, "built-in texts do not parse")
                        }
                    }
                }
                Arc::new(Pages {
                    environment,
                    locales,
                    stylesheet: include_str!("style.css").to_string(),
                })
            })
            .clone()
    }

    /// The built-in pages with the overrides of `dir`, if any: every
    /// `templates/*.html`, every `texts/<locale>.json` (a built-in locale's
    /// texts are replaced key by key, and an unknown key is an error, so a
    /// misspelt one does not go unnoticed; a new locale falls back to
    /// English for what it lacks), and `style.css`. Whatever does not parse
    /// is an error naming the file.
    pub fn load(dir: Option<&Path>) -> Result<Arc<Pages>, String> {
        let built_in = Pages::built_in();
        let Some(dir) = dir else {
            return Ok(built_in);
        };
        let named = |path: &Path, err: &dyn std::fmt::Display| {
            format!("AUTHGATE_PAGES_DIR: {}: {err}", path.display())
        };
        if !dir.is_dir() {
            return Err(named(dir, &"not a directory"));
        }
        let mut environment = Environment::new();
        for (name, source) in TEMPLATES {
            environment
                .add_template(name, source)
                .map_err(|e| named(Path::new(name), &e))?;
        }
        for (path, source) in files(&dir.join("templates"), "html")? {
            let name = file_name(&path);
            environment
                .add_template_owned(name, source)
                .map_err(|e| named(&path, &e))?;
        }
        let english = built_in.locales[DEFAULT_LOCALE].clone();
        let mut locales = built_in.locales.clone();
        for (path, source) in files(&dir.join("texts"), "json")? {
            let name = file_name(&path);
            let name = name.trim_end_matches(".json").to_ascii_lowercase();
            let mut overrides = Locale::parse(&source).map_err(|e| named(&path, &e))?;
            if let Some(unknown) = overrides
                .texts
                .keys()
                .find(|key| !english.texts.contains_key(*key))
            {
                return Err(named(&path, &format!("unknown text {unknown:?}")));
            }
            let base = locales.remove(&name).unwrap_or_else(|| english.clone());
            for (key, text) in base.texts {
                overrides.texts.entry(key).or_insert(text);
            }
            for (english, text) in base.messages {
                overrides.messages.entry(english).or_insert(text);
            }
            locales.insert(name, overrides);
        }
        let stylesheet_path = dir.join("style.css");
        let stylesheet = if stylesheet_path.exists() {
            std::fs::read_to_string(&stylesheet_path).map_err(|e| named(&stylesheet_path, &e))?
        } else {
            built_in.stylesheet.clone()
        };
        Ok(Arc::new(Pages {
            environment,
            locales,
            stylesheet,
        }))
    }

    /// The locales the pages speak.
    pub fn locales(&self) -> impl Iterator<Item = &str> {
        self.locales.keys().map(String::as_str)
    }

    /// The stylesheet of the pages.
    pub fn stylesheet(&self) -> &str {
        &self.stylesheet
    }

    /// The first of `tags` (language tags, in order of preference) that
    /// the pages speak, exactly or by its primary language (`de-CH` → `de`).
    pub fn first_spoken<'a>(&self, tags: impl IntoIterator<Item = &'a str>) -> Option<String> {
        tags.into_iter().find_map(|tag| {
            let tag = tag.trim().to_ascii_lowercase();
            let primary = tag.split('-').next().unwrap_or_default().to_string();
            [tag, primary]
                .into_iter()
                .find(|candidate| self.locales.contains_key(candidate))
        })
    }

    fn locale(&self, name: &str) -> &Locale {
        self.locales
            .get(name)
            .or_else(|| self.locales.get(DEFAULT_LOCALE))
            .unwrap_or_else(|| empty_locale())
    }
}

fn empty_locale() -> &'static Locale {
    static EMPTY: OnceLock<Locale> = OnceLock::new();
    EMPTY.get_or_init(Locale::default)
}

/// The files of `dir` ending in `.extension`, read, in name order; none if
/// `dir` does not exist.
fn files(dir: &Path, extension: &str) -> Result<Vec<(std::path::PathBuf, String)>, String> {
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let named =
        |path: &Path, err: std::io::Error| format!("AUTHGATE_PAGES_DIR: {}: {err}", path.display());
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| named(dir, e))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|e| e == extension))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let source = std::fs::read_to_string(&path).map_err(|e| named(&path, e))?;
            Ok((path, source))
        })
        .collect()
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The language tags of an `Accept-Language` header, most wanted first
/// (RFC 9110 §12.5.4; `q=0` means "not this one").
pub fn accept_language(header: &str) -> Vec<&str> {
    let mut tags: Vec<(&str, f32)> = header
        .split(',')
        .filter_map(|item| {
            let mut parts = item.split(';');
            let tag = parts.next()?.trim();
            let quality = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            (!tag.is_empty() && tag != "*" && quality > 0.0).then_some((tag, quality))
        })
        .collect();
    tags.sort_by(|a, b| b.1.total_cmp(&a.1));
    tags.into_iter().map(|(tag, _)| tag).collect()
}

/// The pages and the locale of the request being answered.
#[derive(Clone)]
pub struct Ui {
    pub pages: Arc<Pages>,
    pub locale: String,
}

tokio::task_local! {
    /// The [`Ui`] of the request being answered, set by the pages' locale
    /// layer (`pages::localized`).
    pub static UI: Ui;
}

/// Run `f` on the pages and locale of the request being answered (the
/// built-in pages in English outside one).
fn current<T>(f: impl FnOnce(&Pages, &str) -> T) -> T {
    let ui = UI.try_with(Ui::clone).unwrap_or_else(|_| Ui {
        pages: Pages::built_in(),
        locale: DEFAULT_LOCALE.to_string(),
    });
    f(&ui.pages, &ui.locale)
}

/// The text `key` in the request's locale (English where the locale lacks
/// it; the key itself if English does, which a test forbids).
pub fn text(key: &str) -> String {
    current(|pages, locale| {
        pages
            .locale(locale)
            .texts
            .get(key)
            .cloned()
            .unwrap_or_else(|| key.to_string())
    })
}

/// A service's refusal message (written in English) in the request's
/// locale, when the locale translates it.
pub fn message(english: &str) -> String {
    current(|pages, locale| {
        pages
            .locale(locale)
            .messages
            .get(english)
            .cloned()
            .unwrap_or_else(|| english.to_string())
    })
}

/// The policy of every page: nothing but this origin's stylesheet, script
/// (the passkey buttons) and requests, and images (`data:` for the QR
/// code); no inline script; never in a frame. (No `form-action`: browsers
/// apply it to the redirects after a form, and a sign-in ends in one to
/// the client.)
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; script-src 'self'; \
     connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'";

/// 32 random bytes, base64url: CSRF tokens.
pub fn random_token() -> String {
    let mut buffer = [0u8; 32];
    rand::rng().fill_bytes(&mut buffer);
    URL_SAFE_NO_PAD.encode(buffer)
}

/// A page to render: a template, the key of its title, and its values.
pub struct Page {
    template: &'static str,
    title: &'static str,
    values: BTreeMap<&'static str, minijinja::Value>,
    error: Option<String>,
    notice: Option<&'static str>,
    status: StatusCode,
}

impl Page {
    /// The page of `template`, titled with the text `title`.
    pub fn new(template: &'static str, title: &'static str) -> Self {
        Self {
            template,
            title,
            values: BTreeMap::new(),
            error: None,
            notice: None,
            status: StatusCode::OK,
        }
    }

    pub fn with(mut self, name: &'static str, value: &str) -> Self {
        self.values.insert(name, minijinja::Value::from(value));
        self
    }

    pub fn flag(mut self, name: &'static str, value: bool) -> Self {
        self.values.insert(name, minijinja::Value::from(value));
        self
    }

    /// A value for the template, from anything serializable.
    pub fn with_value<T: serde::Serialize>(mut self, name: &'static str, value: &T) -> Self {
        self.values
            .insert(name, minijinja::Value::from_serialize(value));
        self
    }

    pub fn with_list(mut self, name: &'static str, values: &[String]) -> Self {
        self.values
            .insert(name, minijinja::Value::from_serialize(values));
        self
    }

    /// An error shown above the form, in words.
    pub fn error(mut self, error: Option<String>) -> Self {
        self.error = error;
        self
    }

    /// A notice shown above the form (a step that went well): a text key.
    pub fn notice(mut self, notice: &'static str) -> Self {
        self.notice = Some(notice);
        self
    }

    pub fn status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    pub fn render(self) -> Response {
        let html = current(|pages, locale| {
            let texts = &pages.locale(locale).texts;
            let text = |key: &str| texts.get(key).cloned().unwrap_or_else(|| key.to_string());
            let context = minijinja::context! {
                lang => locale,
                t => texts,
                title => text(self.title),
                error => self.error,
                notice => self.notice.map(text),
                ..minijinja::Value::from_serialize(&self.values)
            };
            pages
                .environment
                .get_template(self.template)
                .and_then(|template| template.render(context))
        });
        let (status, body) = match html {
            Ok(html) => (self.status, html),
            Err(err) => {
                tracing::error!(template = self.template, error = %err, "page not rendered");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "<!doctype html><title>Error</title><p>The page could not be shown.</p>"
                        .to_string(),
                )
            }
        };
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        );
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(pages: &Arc<Pages>, locale: &str, page: Page) -> String {
        let ui = Ui {
            pages: pages.clone(),
            locale: locale.into(),
        };
        let response = UI.sync_scope(ui, || page.render());
        assert_eq!(response.status(), StatusCode::OK);
        let body = response.into_body();
        let bytes = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(axum::body::to_bytes(body, usize::MAX))
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    /// A new empty directory under the system's temporary one.
    fn scratch_dir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("authgate-pages-{}", random_token()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn every_template_renders_in_every_locale_and_escapes_what_it_shows() {
        let pages = Pages::built_in();
        assert_eq!(pages.locales().collect::<Vec<_>>(), ["de", "en"]);
        for locale in ["en", "de"] {
            for (name, _) in TEMPLATES.iter().filter(|(n, _)| *n != "base.html") {
                let html = render(&pages, locale, Page::new(name, "sign_in_title"));
                assert!(
                    html.contains(&format!("<html lang=\"{locale}\">")),
                    "{name}"
                );
            }
        }
        let html = render(
            &pages,
            "en",
            Page::new("error.html", "error_title").with("message", "<script>alert(1)</script>"),
        );
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(!html.contains("<script>"), "{html}");
    }

    #[test]
    fn every_locale_has_every_text_of_english() {
        let pages = Pages::built_in();
        let english = &pages.locales["en"];
        for (name, locale) in &pages.locales {
            for key in english.texts.keys() {
                assert!(locale.texts.contains_key(key), "{name} lacks {key}");
            }
            assert_eq!(
                locale.texts.len(),
                english.texts.len(),
                "{name} has unknown texts"
            );
        }
        assert!(
            render(&pages, "de", Page::new("sign_in.html", "sign_in_title"))
                .contains("<label for=\"password\">Passwort</label>")
        );
    }

    #[test]
    fn the_locale_is_the_first_spoken_tag() {
        let pages = Pages::built_in();
        let cases: [(&str, Option<&str>); 6] = [
            ("de", Some("de")),
            ("de-CH,en;q=0.5", Some("de")),
            ("fr, en;q=0.8, de;q=0.9", Some("de")),
            ("fr, de;q=0", None),
            ("EN-gb", Some("en")),
            ("", None),
        ];
        for (header, expected) in cases {
            assert_eq!(
                pages.first_spoken(accept_language(header)).as_deref(),
                expected,
                "{header:?}"
            );
        }
    }

    #[test]
    fn overrides_replace_texts_templates_and_the_stylesheet_and_add_locales() {
        let dir = scratch_dir();
        std::fs::create_dir_all(dir.join("templates")).unwrap();
        std::fs::create_dir_all(dir.join("texts")).unwrap();
        std::fs::write(
            dir.join("templates/error.html"),
            "{% extends \"base.html\" %}{% block content %}<p class=acme>{{ message }}</p>{% endblock %}",
        )
        .unwrap();
        std::fs::write(
            dir.join("texts/en.json"),
            r#"{"sign_in": "Log in to Acme"}"#,
        )
        .unwrap();
        std::fs::write(dir.join("texts/fr.json"), r#"{"password": "Mot de passe"}"#).unwrap();
        std::fs::write(dir.join("style.css"), "body{color:teal}").unwrap();
        let pages = Pages::load(Some(&dir)).unwrap();

        let sign_in = render(&pages, "en", Page::new("sign_in.html", "sign_in_title"));
        assert!(sign_in.contains(">Log in to Acme</button>"), "{sign_in}");
        assert!(sign_in.contains(">Email</label>"), "the other texts stay");
        let error = render(
            &pages,
            "en",
            Page::new("error.html", "error_title").with("message", "m"),
        );
        assert!(error.contains("<p class=acme>m</p>"), "{error}");
        let french = render(&pages, "fr", Page::new("sign_in.html", "sign_in_title"));
        assert!(french.contains(">Mot de passe</label>") && french.contains(">Email</label>"));
        assert_eq!(pages.stylesheet(), "body{color:teal}");
    }

    #[test]
    fn an_override_that_does_not_parse_names_its_file() {
        let cases = [
            ("templates/sign_in.html", "{% if %}"),
            ("texts/en.json", "{not json"),
            ("texts/en.json", r#"{"sing_in": "typo"}"#),
            ("texts/de.json", r#"{"email": 3}"#),
        ];
        for (file, source) in cases {
            let dir = scratch_dir();
            let path = dir.join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, source).unwrap();
            let err = Pages::load(Some(&dir)).unwrap_err();
            assert!(
                err.starts_with("AUTHGATE_PAGES_DIR: ") && err.contains(file),
                "{err}"
            );
        }
        let err = Pages::load(Some(Path::new("/nonexistent/pages"))).unwrap_err();
        assert!(err.contains("not a directory"), "{err}");
    }
}
