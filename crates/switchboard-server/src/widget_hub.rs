//! Wakes the widget's long-polls when something for a visitor is stored in this process (an
//! agent's reply, or the visitor's own message from another tab).
//!
//! Invariant: a long-poll subscribes before it reads the store, so a wake-up between its read
//! and its wait is never lost. Nothing lives only here: a reply stored by another process is
//! found when the poll's wait ends (at most the wait the browser asked for), because the
//! answer always comes from the store.

use switchboard_core::ContactId;
use tokio::sync::{broadcast, watch};

/// One channel for the whole process: waiters skip wake-ups for other contacts. A waiter that
/// falls behind (`Lagged`) reads the store again, so a burst never loses a reply.
#[derive(Debug)]
pub struct WidgetHub {
    sender: broadcast::Sender<ContactId>,
    /// Set when the server stops: waiting polls answer at once instead of holding the
    /// graceful shutdown for the rest of their wait.
    closing: watch::Sender<bool>,
}

impl Default for WidgetHub {
    fn default() -> Self {
        Self {
            sender: broadcast::channel(1024).0,
            closing: watch::channel(false).0,
        }
    }
}

impl WidgetHub {
    /// Something new for `contact` was committed.
    pub fn notify(&self, contact: ContactId) {
        // No receiver (nobody is waiting) is not an error.
        let _ = self.sender.send(contact);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<ContactId> {
        self.sender.subscribe()
    }

    /// The server is stopping: every waiting poll answers now.
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// Resolves (`wait_for(|closed| *closed)`) once [`WidgetHub::close`] was called.
    pub fn closing(&self) -> watch::Receiver<bool> {
        self.closing.subscribe()
    }

    /// How many long-polls are waiting now (tests wait for one before replying).
    pub fn waiting(&self) -> usize {
        self.sender.receiver_count()
    }
}
