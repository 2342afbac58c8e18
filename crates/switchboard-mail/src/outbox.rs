//! The default mailer: each message becomes a file in `<data dir>/outbox/`, readable by a
//! person running Switchboard on their own machine, and by tests.

use crate::{Email, MailError, Mailer};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct FileOutbox {
    dir: PathBuf,
}

impl FileOutbox {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Every message in the outbox, oldest first.
    pub fn messages(&self) -> Result<Vec<Email>, MailError> {
        let mut entries: Vec<_> = match std::fs::read_dir(&self.dir) {
            Ok(rd) => rd.filter_map(Result::ok).map(|e| e.path()).collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        entries.retain(|p| p.extension().is_some_and(|x| x == "json"));
        entries.sort();
        entries
            .iter()
            .map(|p| {
                let text = std::fs::read_to_string(p)?;
                serde_json::from_str(&text).map_err(|e| MailError::Outbox(std::io::Error::other(e)))
            })
            .collect()
    }
}

#[async_trait::async_trait]
impl Mailer for FileOutbox {
    async fn send(&self, email: &Email) -> Result<(), MailError> {
        tokio::fs::create_dir_all(&self.dir).await?;
        // Time-ordered names keep the outbox in sending order.
        let id = uuid::Uuid::now_v7().simple().to_string();
        let json = serde_json::to_string_pretty(email)
            .map_err(|e| MailError::Outbox(std::io::Error::other(e)))?;
        let readable = format!(
            "To: {}\nSubject: {}\n\n{}\n",
            email.to, email.subject, email.text
        );
        tokio::fs::write(self.dir.join(format!("{id}.json")), json).await?;
        tokio::fs::write(self.dir.join(format!("{id}.txt")), readable).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn messages_are_written_and_read_back_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = FileOutbox::new(dir.path().join("outbox"));
        for n in 0..3 {
            let email = Email {
                to: format!("p{n}@example.com"),
                subject: format!("s{n}"),
                text: "body".into(),
            };
            outbox.send(&email).await.unwrap();
        }
        let got = outbox.messages().unwrap();
        assert_eq!(
            got.iter().map(|e| e.to.as_str()).collect::<Vec<_>>(),
            ["p0@example.com", "p1@example.com", "p2@example.com"]
        );
        let txt = std::fs::read_dir(dir.path().join("outbox"))
            .unwrap()
            .filter(|e| e.as_ref().unwrap().path().extension().unwrap() == "txt")
            .count();
        assert_eq!(txt, 3);
    }
}
