//! The key that seals secrets at rest, and where it comes from:
//! `AUTHGATE_ENCRYPTION_KEY` (base64 of 32 bytes), `AUTHGATE_ENCRYPTION_KEY_FILE`
//! (a file holding the same), or — on SQLite only, when neither is set — a
//! key generated on first start into `encryption.key` in the data dir
//! (owner-only). PostgreSQL without a key is refused: its instances must all
//! share one key, so the operator makes it. The key itself is never printed;
//! only its id (a digest prefix) is.

use crate::settings::Settings;
use anyhow::{Context, bail};
use authgate_store::Engine;
use authgate_store::cipher::SealingKey;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use std::path::{Path, PathBuf};

const HOW_TO_MAKE_ONE: &str = "make one with `openssl rand -base64 32 > authgate.key` \
     (or `head -c 32 /dev/urandom | base64`), keep it out of database backups, and set \
     AUTHGATE_ENCRYPTION_KEY_FILE=authgate.key (or AUTHGATE_ENCRYPTION_KEY to its contents) \
     on every instance";

/// Where the key in use came from, for the start-up log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    Variable,
    File(PathBuf),
    Generated(PathBuf),
}

impl std::fmt::Display for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeySource::Variable => f.write_str("AUTHGATE_ENCRYPTION_KEY"),
            KeySource::File(path) => write!(f, "the file {}", path.display()),
            KeySource::Generated(path) => write!(f, "the generated file {}", path.display()),
        }
    }
}

/// The sealing key of this installation for a database of `engine`.
pub fn sealing_key(settings: &Settings, engine: Engine) -> anyhow::Result<(SealingKey, KeySource)> {
    match (&settings.encryption_key, &settings.encryption_key_file) {
        (Some(_), Some(_)) => {
            bail!("set AUTHGATE_ENCRYPTION_KEY or AUTHGATE_ENCRYPTION_KEY_FILE, not both")
        }
        (Some(value), None) => Ok((
            parse_key(value, "AUTHGATE_ENCRYPTION_KEY")?,
            KeySource::Variable,
        )),
        (None, Some(path)) => Ok((read_key_file(path)?, KeySource::File(path.clone()))),
        (None, None) if engine == Engine::Postgres => bail!(
            "authgate stores TOTP secrets, signing keys and challenge state encrypted, and on \
             PostgreSQL every instance must share the key: {HOW_TO_MAKE_ONE}"
        ),
        (None, None) => {
            let path = settings.generated_key_file();
            Ok((generated_key(&path)?, KeySource::Generated(path)))
        }
    }
}

/// A key file: base64 of 32 bytes, surrounding whitespace ignored.
pub fn read_key_file(path: &Path) -> anyhow::Result<SealingKey> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the encryption key file {}", path.display()))?;
    warn_if_readable_by_others(path);
    parse_key(
        &text,
        &format!("the encryption key file {}", path.display()),
    )
}

fn parse_key(text: &str, source: &str) -> anyhow::Result<SealingKey> {
    let text = text.trim();
    let bytes = [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(text).ok());
    let Some(bytes) = bytes else {
        bail!("{source} is not base64; {HOW_TO_MAKE_ONE}");
    };
    let Ok(key) = <[u8; SealingKey::LEN]>::try_from(bytes.as_slice()) else {
        bail!(
            "{source} holds {} bytes, not {}; {HOW_TO_MAKE_ONE}",
            bytes.len(),
            SealingKey::LEN
        );
    };
    Ok(SealingKey::new(&key))
}

/// The key generated into the data dir: read when it exists, else made
/// (written to a private temporary file, then linked into place, so two
/// instances starting together end up with the same key).
fn generated_key(path: &Path) -> anyhow::Result<SealingKey> {
    if !path.exists() {
        let dir = path.parent().unwrap_or(Path::new("."));
        authgate_store::create_private_dir(dir)
            .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
        let mut key = [0u8; SealingKey::LEN];
        aws_lc_rs::rand::fill(&mut key).map_err(|_| anyhow::anyhow!("no randomness"))?;
        let temporary = dir.join(format!(".encryption.key.{}", uuid::Uuid::new_v4().simple()));
        write_private(&temporary, &format!("{}\n", STANDARD.encode(key)))
            .with_context(|| format!("cannot write {}", temporary.display()))?;
        let linked = std::fs::hard_link(&temporary, path);
        let _ = std::fs::remove_file(&temporary);
        match linked {
            Ok(()) => tracing::info!(
                path = %path.display(),
                "generated the encryption key for secrets at rest; back it up apart from the \
                 database: without it the TOTP secrets and signing keys cannot be read"
            ),
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(err) => {
                return Err(err).with_context(|| format!("cannot write {}", path.display()));
            }
        }
    }
    read_key_file(path)
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()
}

fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        if let Ok(meta) = std::fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(
                path = %path.display(),
                "the encryption key file is readable by other users; `chmod 600` it"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings_in(dir: &Path) -> Settings {
        Settings {
            data_dir: dir.to_path_buf(),
            ..Settings::default()
        }
    }

    fn temp_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("authgate-key-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn sqlite_without_a_key_generates_one_private_file_and_reuses_it() {
        let dir = temp_dir();
        let settings = settings_in(&dir.join("data"));
        let (first, source) = sealing_key(&settings, Engine::Sqlite).unwrap();
        assert_eq!(source, KeySource::Generated(settings.generated_key_file()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(settings.generated_key_file())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let (again, _) = sealing_key(&settings, Engine::Sqlite).unwrap();
        assert_eq!(first.id(), again.id());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn postgres_without_a_key_is_refused_with_the_way_to_make_one() {
        let dir = temp_dir();
        let err = sealing_key(&settings_in(&dir), Engine::Postgres)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("openssl rand -base64 32") && err.contains("AUTHGATE_ENCRYPTION_KEY_FILE"),
            "{err}"
        );
        assert!(!dir.join("encryption.key").exists());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn bad_keys_are_named_and_never_echoed() {
        let dir = temp_dir();
        let file = dir.join("k");
        std::fs::write(&file, format!("{}\n", STANDARD.encode([7u8; 32]))).unwrap();
        let cases: [(Option<&str>, Option<PathBuf>, &str); 4] = [
            (Some("not base64 at all!"), None, "is not base64"),
            (Some("c2hvcnQ="), None, "holds 5 bytes, not 32"),
            (Some("c2hvcnQ="), Some(file.clone()), "not both"),
            (
                None,
                Some(dir.join("missing")),
                "cannot read the encryption key file",
            ),
        ];
        for (value, path, expected) in cases {
            let settings = Settings {
                encryption_key: value.map(str::to_string),
                encryption_key_file: path,
                ..settings_in(&dir)
            };
            let err = format!("{:#}", sealing_key(&settings, Engine::Sqlite).unwrap_err());
            assert!(err.contains(expected), "{value:?}: {err}");
            if let Some(value) = value {
                assert!(!err.contains(value), "the value is echoed: {err}");
            }
        }
        let settings = Settings {
            encryption_key_file: Some(file.clone()),
            ..settings_in(&dir)
        };
        let (from_file, source) = sealing_key(&settings, Engine::Postgres).unwrap();
        assert_eq!(source, KeySource::File(file));
        let settings = Settings {
            encryption_key: Some(URL_SAFE_NO_PAD.encode([7u8; 32])),
            ..settings_in(&dir)
        };
        let (from_variable, _) = sealing_key(&settings, Engine::Postgres).unwrap();
        assert_eq!(from_file.id(), from_variable.id());
        let _ = std::fs::remove_dir_all(dir);
    }
}
