//! A real SMTP server on loopback for the tests: it speaks enough ESMTP for
//! lettre (EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT), keeps every delivered
//! message, and lets a test wait for the code mailed to an address.

use regex::Regex;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

#[derive(Debug, Clone)]
pub struct Delivered {
    pub recipients: Vec<String>,
    pub data: String,
}

impl Delivered {
    /// A security notice (authgate's subject for them).
    pub fn is_notice(&self) -> bool {
        self.data.contains("Subject: Security notice")
    }
}

#[derive(Clone, Default)]
pub struct SmtpSink {
    pub port: u16,
    messages: Arc<Mutex<Vec<Delivered>>>,
}

impl SmtpSink {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind smtp sink");
        let sink = SmtpSink {
            port: listener.local_addr().unwrap().port(),
            messages: Arc::default(),
        };
        let messages = sink.messages.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let messages = messages.clone();
                tokio::spawn(async move {
                    let _ = serve(socket, messages).await;
                });
            }
        });
        sink
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message to `address` but security notices (see [`Self::notices_to`]).
    pub fn messages_to(&self, address: &str) -> Vec<Delivered> {
        self.all_to(address)
            .into_iter()
            .filter(|m| !m.is_notice())
            .collect()
    }

    /// The security notices to `address` (no code, no secret in them).
    pub fn notices_to(&self, address: &str) -> Vec<Delivered> {
        self.all_to(address)
            .into_iter()
            .filter(Delivered::is_notice)
            .collect()
    }

    /// Wait up to 10 s for a notice to `address` whose text contains `text`.
    pub async fn notice(&self, address: &str, text: &str) -> Delivered {
        for _ in 0..200 {
            if let Some(notice) = self.notices_to(address).into_iter().find(|m| {
                m.data
                    .replace("\r\n", " ")
                    .replace('\n', " ")
                    .contains(text)
            }) {
                return notice;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "no notice with {text:?} for {address} within 10 s: {:?}",
            self.notices_to(address)
        );
    }

    fn all_to(&self, address: &str) -> Vec<Delivered> {
        self.messages
            .lock()
            .unwrap()
            .iter()
            .filter(|m| m.recipients.iter().any(|r| r.eq_ignore_ascii_case(address)))
            .cloned()
            .collect()
    }

    /// The `Code: NNNNNN` of the `nth` message (0-based) delivered to `address`,
    /// waiting up to 10 s for it.
    pub async fn code(&self, address: &str, nth: usize) -> String {
        let pattern = Regex::new(r"(?m)^Code: (\d{6})\r?$").unwrap();
        for _ in 0..200 {
            if let Some(message) = self.messages_to(address).get(nth) {
                let captures = pattern
                    .captures(&message.data)
                    .unwrap_or_else(|| panic!("no Code: line in {}", message.data));
                return captures[1].to_string();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no message #{nth} for {address} within 10 s");
    }

    /// The temporary password of the `nth` message to `address`.
    pub async fn temporary_password(&self, address: &str, nth: usize) -> String {
        let pattern = Regex::new(r"(?m)^Temporary password: (\S+)\r?$").unwrap();
        for _ in 0..200 {
            if let Some(message) = self.messages_to(address).get(nth) {
                let captures = pattern
                    .captures(&message.data)
                    .unwrap_or_else(|| panic!("no temporary password in {}", message.data));
                return captures[1].to_string();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no message #{nth} for {address} within 10 s");
    }

    /// Give background deliveries a moment, then count messages to `address`.
    pub async fn count_settled(&self, address: &str) -> usize {
        tokio::time::sleep(Duration::from_millis(300)).await;
        self.messages_to(address).len()
    }
}

async fn serve(
    socket: tokio::net::TcpStream,
    messages: Arc<Mutex<Vec<Delivered>>>,
) -> std::io::Result<()> {
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 authgate-test-sink ESMTP\r\n").await?;
    let mut recipients = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_ascii_uppercase();
        let reply: &[u8] = if command.starts_with("EHLO") {
            b"250-authgate-test-sink\r\n250 8BITMIME\r\n"
        } else if command.starts_with("HELO") || command.starts_with("MAIL FROM") {
            b"250 OK\r\n"
        } else if command.starts_with("RCPT TO") {
            let address = line.trim_end()[8..]
                .trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string();
            recipients.push(address);
            b"250 OK\r\n"
        } else if command == "DATA" {
            write.write_all(b"354 go ahead\r\n").await?;
            let mut data = String::new();
            loop {
                line.clear();
                if lines.read_line(&mut line).await? == 0 {
                    return Ok(());
                }
                if line == ".\r\n" || line == ".\n" {
                    break;
                }
                data.push_str(line.strip_prefix('.').unwrap_or(&line));
            }
            messages.lock().unwrap().push(Delivered {
                recipients: std::mem::take(&mut recipients),
                data,
            });
            b"250 queued\r\n"
        } else if command == "RSET" {
            recipients.clear();
            b"250 OK\r\n"
        } else if command == "NOOP" {
            b"250 OK\r\n"
        } else if command == "QUIT" {
            write.write_all(b"221 bye\r\n").await?;
            return Ok(());
        } else {
            b"502 not implemented\r\n"
        };
        write.write_all(reply).await?;
    }
}
