//! The bell: wakes the background runners of this process when a committed write left work
//! for them, so an event-triggered message leaves within moments rather than at the next tick.
//!
//! A use case marks what it left (`Ctx::marks`): a journey run due now, a message or webhook
//! delivery in the outbox. The writer rings the bell for what its batch marked, after the
//! commit, so a runner that wakes finds the rows. Runners still tick on their own (other
//! nodes' writes, scheduled work); the bell only makes them earlier.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use tokio::sync::Notify;

const JOURNEYS: u8 = 1;
const OUTBOX: u8 = 2;

/// What a batch of commands left for the runners.
#[derive(Clone, Debug, Default)]
pub struct Marks(Arc<AtomicU8>);

impl Marks {
    /// A journey run is due now.
    pub(crate) fn journeys(&self) {
        self.0.fetch_or(JOURNEYS, Ordering::Relaxed);
    }

    /// A message or a webhook delivery is in the outbox.
    pub(crate) fn outbox(&self) {
        self.0.fetch_or(OUTBOX, Ordering::Relaxed);
    }

    fn take(&self) -> u8 {
        self.0.swap(0, Ordering::Relaxed)
    }
}

/// Rung by the writer; waited on by the journey runner and the deliverer.
#[derive(Debug, Default)]
pub struct Bell {
    journeys: Notify,
    outbox: Notify,
}

impl Bell {
    /// Rings for what `marks` holds (after the commit that made it so).
    pub(crate) fn ring(&self, marks: &Marks) {
        let marked = marks.take();
        if marked & JOURNEYS != 0 {
            self.journeys.notify_one();
        }
        if marked & OUTBOX != 0 {
            self.outbox.notify_one();
        }
    }

    /// Returns when journey runs were entered since the last call (at once if they were).
    pub async fn journeys(&self) {
        self.journeys.notified().await;
    }

    /// Returns when the outbox got something since the last call (at once if it did).
    pub async fn outbox(&self) {
        self.outbox.notified().await;
    }
}
