//! Wakes the widget's long-polls when something for a visitor is stored in this process (an
//! agent's reply, or the visitor's own message from another tab).
//!
//! Invariant: a long-poll subscribes before it reads the store, so a wake-up between its read
//! and its wait is never lost. Nothing lives only here: a reply stored by another process is
//! found when the poll's wait ends (at most the wait the browser asked for), because the
//! answer always comes from the store.

use switchboard_core::ContactId;
use tokio::sync::broadcast;

/// One channel for the whole process: waiters skip wake-ups for other contacts. A waiter that
/// falls behind (`Lagged`) reads the store again, so a burst never loses a reply.
#[derive(Debug, Clone)]
pub struct WidgetHub {
    sender: broadcast::Sender<ContactId>,
}

impl Default for WidgetHub {
    fn default() -> Self {
        Self {
            sender: broadcast::channel(1024).0,
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

    /// How many long-polls are waiting now (tests wait for one before replying).
    pub fn waiting(&self) -> usize {
        self.sender.receiver_count()
    }
}
