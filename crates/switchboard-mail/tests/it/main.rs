#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // Tests fail loudly.

//! The mail crate's one integration-test binary: `SmtpMailer` delivering to the real local
//! sink, and the configuration that picks a mailer.

use secrecy::SecretString;
use switchboard_mail::testing::{SinkMode, SmtpSink};
use switchboard_mail::{Email, MailError, Mailer, SmtpMailer, mailer_from_config};

const FROM: &str = "Switchboard <noreply@switchboard.test>";

fn mailer(url: &str) -> SmtpMailer {
    SmtpMailer::from_url(&SecretString::from(url), FROM).unwrap()
}

fn email(text: &str) -> Email {
    Email {
        to: "ada@example.com".into(),
        subject: "Reset your password".into(),
        text: text.into(),
    }
}

#[tokio::test]
async fn smtp_delivers_to_the_sink_and_reads_back_the_same_email() {
    let sink = SmtpSink::start().await.unwrap();
    let smtp = mailer(&sink.url());
    let plain = email("Open this link:\nhttps://example.com/reset/abc\n\nThanks");
    // A line starting with a dot is dot-stuffed on the wire; non-ASCII text gets encoded.
    let tricky = Email {
        to: "zoë@example.com".into(),
        subject: "Grüße — ünïcödé".into(),
        text: ".hidden line\n..two dots\nGrüße\n".into(),
    };
    // A long link (quoted-printable soft breaks), tabs, trailing spaces, "=" signs.
    let long = Email {
        to: "ada@example.com".into(),
        subject: format!("A very long subject line {}", "x".repeat(120)),
        text: format!(
            "https://example.com/invitations/accept?token={}&x=1\n\tindented  \nend ",
            "a1b2".repeat(40)
        ),
    };
    smtp.send(&plain).await.unwrap();
    smtp.send(&tricky).await.unwrap();
    smtp.send(&long).await.unwrap();
    assert_eq!(sink.messages().unwrap(), vec![plain, tricky, long]);
    let received = sink.received();
    assert_eq!(received[0].mail_from, "noreply@switchboard.test");
    assert_eq!(received[0].auth_user, None);
}

#[tokio::test]
async fn credentials_from_the_url_are_used() {
    let sink = SmtpSink::start().await.unwrap();
    let url = format!("smtp://mailer%40acme:p%40ss@{}", sink.addr());
    mailer(&url).send(&email("hi")).await.unwrap();
    assert_eq!(sink.received()[0].auth_user.as_deref(), Some("mailer@acme"));
}

#[tokio::test]
async fn transient_and_permanent_refusals_are_told_apart() {
    let sink = SmtpSink::start().await.unwrap();
    let smtp = mailer(&sink.url());
    sink.set_mode(SinkMode::Transient);
    let err = smtp.send(&email("hi")).await.unwrap_err();
    assert!(matches!(err, MailError::Transport(_)), "{err}");
    assert!(!err.is_permanent());
    sink.set_mode(SinkMode::Permanent);
    let err = smtp.send(&email("hi")).await.unwrap_err();
    assert!(matches!(err, MailError::Rejected(_)), "{err}");
    // The code is kept; the server's words (which may quote the recipient) are not.
    assert!(err.to_string().contains("550"), "{err}");
    assert!(!err.to_string().contains("mailbox"), "{err}");
    assert!(err.is_permanent());
    assert_eq!(sink.refused(), 2);
    sink.set_mode(SinkMode::Accept);
    smtp.send(&email("hi")).await.unwrap();
    assert_eq!(sink.messages().unwrap().len(), 1);
}

#[tokio::test]
async fn unreachable_server_is_a_transient_error() {
    // Bind and drop a listener to find a port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = mailer(&format!("smtp://127.0.0.1:{port}"))
        .send(&email("hi"))
        .await
        .unwrap_err();
    assert!(!err.is_permanent(), "{err}");
}

#[tokio::test]
async fn bad_recipient_is_permanent() {
    let sink = SmtpSink::start().await.unwrap();
    let mut bad = email("hi");
    bad.to = "not an address".into();
    let err = mailer(&sink.url()).send(&bad).await.unwrap_err();
    assert!(matches!(err, MailError::BadAddress));
}

#[tokio::test]
async fn without_an_smtp_url_mail_goes_to_the_file_outbox() {
    let dir = tempfile::tempdir().unwrap();
    let mailer = mailer_from_config(None, FROM, dir.path()).unwrap();
    mailer.send(&email("hi")).await.unwrap();
    let outbox = switchboard_mail::FileOutbox::new(dir.path().join("outbox"));
    assert_eq!(outbox.messages().unwrap(), vec![email("hi")]);

    let sink = SmtpSink::start().await.unwrap();
    let url = SecretString::from(sink.url());
    let mailer = mailer_from_config(Some(&url), FROM, dir.path()).unwrap();
    mailer.send(&email("via smtp")).await.unwrap();
    assert_eq!(sink.messages().unwrap(), vec![email("via smtp")]);
}

#[tokio::test]
async fn starttls_is_never_skipped_when_the_server_lacks_it() {
    // The sink offers no STARTTLS: a mailer told to require it must not fall back to plain.
    let sink = SmtpSink::start().await.unwrap();
    let url = format!("smtp+starttls://user:secret@{}", sink.addr());
    let err = mailer(&url).send(&email("hi")).await.unwrap_err();
    assert!(!err.to_string().contains("secret"), "{err}");
    assert!(sink.received().is_empty());
    assert!(sink.messages().unwrap().is_empty());
}
