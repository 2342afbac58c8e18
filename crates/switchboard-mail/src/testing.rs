//! A real SMTP server for tests: [`SmtpSink`] listens on `127.0.0.1:0`, speaks enough of
//! RFC 5321 (and SMTPUTF8) for lettre to deliver (EHLO/HELO, AUTH PLAIN, MAIL, RCPT, DATA with
//! dot-unstuffing, RSET, NOOP, QUIT), keeps what it receives, and can be told to refuse
//! mail with a 4xx (try later) or 5xx (never) answer.
//!
//! Written here rather than taken from a crate: `mailin-embedded`, the maintained choice, runs
//! its own OS threads with a blocking handler API, while tests here need a sink they steer
//! from async code (refuse now, accept later) on their own runtime; the protocol part is small.

use crate::{Email, MailError};
use base64::Engine;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// How the sink answers `RCPT TO`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkMode {
    Accept,
    /// `451 4.3.0`: a transient failure; the sender should retry.
    Transient,
    /// `550 5.1.1`: a permanent refusal.
    Permanent,
    /// Accepts the connection and then says nothing, as a hung mail server would: the
    /// sender's job stays in flight (crash tests kill the sender at that moment).
    Hold,
}

/// One message as the sink received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    /// The user name of `AUTH PLAIN`, if the client authenticated.
    pub auth_user: Option<String>,
    /// The raw message (headers and encoded body), dot-unstuffed, with CRLF line ends.
    pub data: String,
}

#[derive(Debug)]
struct Shared {
    mode: SinkMode,
    received: Vec<Received>,
    refused: usize,
    held: usize,
}

/// A handle on a running sink; clones share it. The server runs until the runtime ends.
#[derive(Debug, Clone)]
pub struct SmtpSink {
    addr: SocketAddr,
    shared: Arc<Mutex<Shared>>,
}

impl SmtpSink {
    pub async fn start() -> std::io::Result<SmtpSink> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Mutex::new(Shared {
            mode: SinkMode::Accept,
            received: Vec::new(),
            refused: 0,
            held: 0,
        }));
        let accept_shared = shared.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let shared = accept_shared.clone();
                tokio::spawn(async move {
                    let (read, write) = stream.into_split();
                    let _ = session(BufReader::new(read), write, &shared).await;
                });
            }
        });
        Ok(SmtpSink { addr, shared })
    }

    /// The URL an `SmtpMailer` delivers here with.
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn set_mode(&self, mode: SinkMode) {
        self.lock().mode = mode;
    }

    /// How many deliveries were refused because of the mode.
    pub fn refused(&self) -> usize {
        self.lock().refused
    }

    /// How many connections were held silent because of `SinkMode::Hold`.
    pub fn held(&self) -> usize {
        self.lock().held
    }

    /// Everything received, in order, as it came over the wire.
    pub fn received(&self) -> Vec<Received> {
        self.lock().received.clone()
    }

    /// Every message received, decoded back into `Email`s (one per recipient), oldest first.
    /// The same shape as `FileOutbox::messages`, so tests read mail the same way.
    pub fn messages(&self) -> Result<Vec<Email>, MailError> {
        let mut out = Vec::new();
        for message in self.received() {
            let (subject, text) = decode(&message.data)?;
            for to in &message.rcpt_to {
                out.push(Email {
                    to: to.clone(),
                    subject: subject.clone(),
                    text: text.clone(),
                });
            }
        }
        Ok(out)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Lines longer than this end the session (RFC 5321 allows 1000 octets per line).
const MAX_LINE: usize = 4096;

async fn session<R, W>(mut read: R, mut write: W, shared: &Mutex<Shared>) -> std::io::Result<()>
where
    R: AsyncBufReadExt + AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let lock = || shared.lock().unwrap_or_else(|p| p.into_inner());
    if lock().mode == SinkMode::Hold {
        lock().held += 1;
        // Silent until the client goes away.
        let mut ignored = String::new();
        while read.read_line(&mut ignored).await? > 0 {
            ignored.clear();
        }
        return Ok(());
    }
    write
        .write_all(b"220 switchboard-sink ESMTP ready\r\n")
        .await?;
    let mut from: Option<String> = None;
    let mut rcpt: Vec<String> = Vec::new();
    let mut auth_user: Option<String> = None;
    let mut line = String::new();
    loop {
        line.clear();
        if read.read_line(&mut line).await? == 0 || line.len() > MAX_LINE {
            return Ok(());
        }
        let command = line.trim_end();
        let upper = command.to_ascii_uppercase();
        let verb = upper.split_whitespace().next().unwrap_or_default();
        let reply: &[u8] = match verb {
            "EHLO" => b"250-switchboard-sink\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 AUTH PLAIN\r\n",
            "HELO" => b"250 switchboard-sink\r\n",
            "AUTH" => {
                // `AUTH PLAIN <base64(authzid \0 user \0 password)>`
                let user = command
                    .split_whitespace()
                    .nth(2)
                    .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
                    .and_then(|raw| {
                        raw.split(|&b| b == 0)
                            .nth(1)
                            .map(|u| String::from_utf8_lossy(u).into_owned())
                    });
                match user {
                    Some(user) => {
                        auth_user = Some(user);
                        b"235 2.7.0 authenticated\r\n"
                    }
                    None => b"501 5.5.2 send AUTH PLAIN with an initial response\r\n",
                }
            }
            "MAIL" => {
                from = Some(path_of(command));
                rcpt.clear();
                b"250 2.1.0 ok\r\n"
            }
            "RCPT" if from.is_none() => b"503 5.5.1 MAIL first\r\n",
            "RCPT" => {
                let mode = lock().mode;
                match mode {
                    SinkMode::Accept => {
                        rcpt.push(path_of(command));
                        b"250 2.1.5 ok\r\n"
                    }
                    SinkMode::Transient => {
                        lock().refused += 1;
                        b"451 4.3.0 try again later\r\n"
                    }
                    SinkMode::Permanent | SinkMode::Hold => {
                        lock().refused += 1;
                        b"550 5.1.1 <recipient>: no such mailbox here\r\n"
                    }
                }
            }
            "DATA" if rcpt.is_empty() => b"554 5.5.1 no valid recipients\r\n",
            "DATA" => {
                write
                    .write_all(b"354 end data with <CR><LF>.<CR><LF>\r\n")
                    .await?;
                let data = read_data(&mut read).await?;
                lock().received.push(Received {
                    mail_from: from.take().unwrap_or_default(),
                    rcpt_to: std::mem::take(&mut rcpt),
                    auth_user: auth_user.clone(),
                    data,
                });
                b"250 2.0.0 queued\r\n"
            }
            "RSET" => {
                from = None;
                rcpt.clear();
                b"250 2.0.0 ok\r\n"
            }
            "NOOP" => b"250 2.0.0 ok\r\n",
            "QUIT" => {
                write.write_all(b"221 2.0.0 bye\r\n").await?;
                return Ok(());
            }
            _ => b"502 5.5.2 command not recognised\r\n",
        };
        write.write_all(reply).await?;
    }
}

/// Reads the message after `DATA` up to the lone dot, undoing dot-stuffing.
async fn read_data<R: AsyncBufReadExt + Unpin>(read: &mut R) -> std::io::Result<String> {
    let mut data = String::new();
    let mut line = String::new();
    loop {
        line.clear();
        if read.read_line(&mut line).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if line == ".\r\n" || line == ".\n" {
            return Ok(data);
        }
        data.push_str(line.strip_prefix('.').unwrap_or(&line));
    }
}

/// `MAIL FROM:<a@b> SIZE=1` → `a@b`.
fn path_of(command: &str) -> String {
    let start = command.find('<').map_or(0, |i| i + 1);
    let rest = command.get(start..).unwrap_or_default();
    rest.split('>').next().unwrap_or_default().to_owned()
}

/// The subject and the plain-text body of a single-part message as lettre builds it.
fn decode(data: &str) -> Result<(String, String), MailError> {
    let bad = |what: &str| MailError::Transport(format!("sink cannot read the message: {what}"));
    let (head, body) = data
        .split_once("\r\n\r\n")
        .ok_or_else(|| bad("no blank line after the headers"))?;
    // lettre ends the data with CRLF before the final dot whether or not the body had one.
    let body = body.strip_suffix("\r\n").unwrap_or(body);
    // Unfold continued header lines first.
    let head = head.replace("\r\n ", " ").replace("\r\n\t", " ");
    let header = |name: &str| {
        head.split("\r\n").find_map(|h| {
            let (k, v) = h.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    };
    let subject = decode_words(&header("Subject").unwrap_or_default())?;
    let encoding = header("Content-Transfer-Encoding")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let raw = match encoding.as_str() {
        "base64" => {
            let joined: String = body.split_whitespace().collect();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(joined)
                .map_err(|_| bad("bad base64"))?;
            String::from_utf8(bytes).map_err(|_| bad("body is not UTF-8"))?
        }
        "quoted-printable" => quoted_printable(body).ok_or_else(|| bad("bad quoted-printable"))?,
        _ => body.to_owned(),
    };
    Ok((subject, raw.replace("\r\n", "\n")))
}

fn quoted_printable(body: &str) -> Option<String> {
    let mut out = Vec::new();
    let mut lines = body.split("\r\n").peekable();
    while let Some(line) = lines.next() {
        let (content, soft) = match line.strip_suffix('=') {
            Some(c) => (c, true),
            None => (line, false),
        };
        let bytes = content.as_bytes();
        let mut i = 0;
        while let Some(&b) = bytes.get(i) {
            if b == b'=' {
                let hex = content.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            } else {
                out.push(b);
                i += 1;
            }
        }
        if !soft && lines.peek().is_some() {
            out.extend_from_slice(b"\r\n");
        }
    }
    String::from_utf8(out).ok()
}

/// Decodes RFC 2047 encoded words (`=?utf-8?b?...?=`, `=?utf-8?q?...?=`) in a header.
fn decode_words(value: &str) -> Result<String, MailError> {
    let bad = || MailError::Transport("sink cannot read an encoded header".into());
    let mut out = String::new();
    let mut rest = value;
    let mut last_was_word = false;
    while let Some(start) = rest.find("=?") {
        let before = rest.get(..start).unwrap_or_default();
        // Whitespace between two encoded words is not part of the text.
        if !(last_was_word && before.trim().is_empty()) {
            out.push_str(before);
        }
        let word = rest.get(start + 2..).unwrap_or_default();
        let mut parts = word.splitn(3, '?');
        let (_charset, kind, tail) = (parts.next(), parts.next(), parts.next());
        let (Some(kind), Some(tail)) = (kind, tail) else {
            out.push_str(rest.get(start..).unwrap_or_default());
            return Ok(out);
        };
        let end = tail.find("?=").ok_or_else(bad)?;
        let encoded = tail.get(..end).unwrap_or_default();
        let bytes = match kind {
            "b" | "B" => base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .map_err(|_| bad())?,
            _ => quoted_printable(&encoded.replace('_', " "))
                .ok_or_else(bad)?
                .into_bytes(),
        };
        out.push_str(&String::from_utf8(bytes).map_err(|_| bad())?);
        rest = tail.get(end + 2..).unwrap_or_default();
        last_was_word = true;
    }
    out.push_str(rest);
    Ok(out)
}
