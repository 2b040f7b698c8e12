//! The one background worker type: a named thread that takes requests and sends events over
//! bounded channels, so the UI (or a CLI loop) never waits on slow work. Every job of the app
//! (scan, decode, analysis, library, dialogs) is a [`Worker`].
//!
//! What the two sides get:
//! - the owner: [`Worker::try_send`] (a full queue gives the request back), [`Worker::try_next`]
//!   and [`Worker::next_blocking`] for events, [`Worker::cancel`] and
//!   [`Worker::cancel_before`];
//! - the thread: a [`Link`] with `recv`/`try_recv` for requests, `send` (waits while the event
//!   queue is full; results are never lost) and `send_progress` (dropped when the queue is
//!   full; a slow reader loses ticks, never blocks the worker), and the cancellation state.
//!
//! Policies, chosen in [`WorkerSpec`]:
//! - **newest request wins** ([`WorkerSpec::newest_request_wins`]): `recv` skips the requests
//!   that a newer one has overtaken (similar-case queries while the user clicks around);
//! - **cancellation by generation**: the owner raises a floor with `cancel_before(g)`, and the
//!   thread drops work stamped with an older generation ([`Link::is_stale`]): queued patients
//!   of an earlier opening;
//! - **cancel**: a flag the thread checks between units of work ([`Link::cancel_flag`]).
//!
//! Dropping a worker cancels it, closes its request queue, drains and closes its event queue
//! (so a thread blocked on a full queue wakes up), then joins the thread: no thread outlives
//! its owner, and one that panicked is logged.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;

/// How a worker is made: [`WorkerSpec::new`], then the policies wanted.
pub struct WorkerSpec {
    /// The thread's name (`fovea-…`), shown by debuggers and in panic messages.
    name: &'static str,
    /// Requests that may wait at once.
    request_capacity: usize,
    /// Events that may wait at once.
    event_capacity: usize,
    /// `recv` returns only the newest of the requests waiting.
    newest_request_wins: bool,
    /// Called after every event sent (e.g. egui's `request_repaint`, to wake the UI).
    wake: Option<Box<dyn Fn() + Send>>,
}

impl WorkerSpec {
    /// A worker named `name` with queues of `requests` and `events`, no policy, no waker.
    pub fn new(name: &'static str, requests: usize, events: usize) -> Self {
        WorkerSpec {
            name,
            request_capacity: requests.max(1),
            event_capacity: events.max(1),
            newest_request_wins: false,
            wake: None,
        }
    }

    /// With the newest-request-wins policy.
    pub fn newest_request_wins(mut self) -> Self {
        self.newest_request_wins = true;
        self
    }

    /// With a waker called after every event.
    pub fn waking(mut self, wake: impl Fn() + Send + 'static) -> Self {
        self.wake = Some(Box::new(wake));
        self
    }
}

/// The cancellation state both sides see.
#[derive(Default)]
struct Cancellation {
    stop: AtomicBool,
    generation_floor: AtomicU64,
}

/// The worker thread's side: its requests, its events, and whether to stop.
pub struct Link<Request, Event> {
    requests: Receiver<Request>,
    events: SyncSender<Event>,
    cancellation: Arc<Cancellation>,
    newest_request_wins: bool,
    wake: Option<Box<dyn Fn() + Send>>,
}

impl<Request, Event> Link<Request, Event> {
    /// Waits for the next request (under the newest-wins policy: the newest waiting); `None`
    /// once the owner has gone.
    pub fn recv(&self) -> Option<Request> {
        let request = self.requests.recv().ok()?;
        Some(self.newest_after(request))
    }

    /// The next request if one is waiting (under the newest-wins policy: the newest).
    pub fn try_recv(&self) -> Option<Request> {
        let request = self.requests.try_recv().ok()?;
        Some(self.newest_after(request))
    }

    fn newest_after(&self, mut request: Request) -> Request {
        if self.newest_request_wins {
            while let Ok(newer) = self.requests.try_recv() {
                request = newer;
            }
        }
        request
    }

    /// Sends an event, waiting while the queue is full; false once the owner has gone (the
    /// thread should end then).
    pub fn send(&self, event: Event) -> bool {
        let sent = self.events.send(event).is_ok();
        self.wake();
        sent
    }

    /// Sends an event unless the queue is full (progress ticks): a slow reader loses it.
    pub fn send_progress(&self, event: Event) {
        if self.events.try_send(event).is_ok() {
            self.wake();
        }
    }

    fn wake(&self) {
        if let Some(wake) = &self.wake {
            wake();
        }
    }

    /// Whether the owner asked the work to stop.
    pub fn is_cancelled(&self) -> bool {
        self.cancellation.stop.load(Ordering::Relaxed)
    }

    /// The stop flag itself, for code that polls an `AtomicBool` (the folder scan).
    pub fn cancel_flag(&self) -> &AtomicBool {
        &self.cancellation.stop
    }

    /// Whether work of `generation` was cancelled by [`Worker::cancel_before`].
    pub fn is_stale(&self, generation: u64) -> bool {
        generation < self.cancellation.generation_floor.load(Ordering::Relaxed)
    }

    /// A sender for events from threads the worker starts itself (progress callbacks).
    pub fn event_sender(&self) -> SyncSender<Event> {
        self.events.clone()
    }
}

/// The owner's side of a worker thread.
pub struct Worker<Request, Event> {
    name: &'static str,
    requests: Option<SyncSender<Request>>,
    events: Receiver<Event>,
    cancellation: Arc<Cancellation>,
    handle: Option<JoinHandle<()>>,
}

impl<Request: Send + 'static, Event: Send + 'static> Worker<Request, Event> {
    /// Starts `body` on a thread named by `spec`; an error when the thread cannot start.
    pub fn spawn(
        spec: WorkerSpec,
        body: impl FnOnce(Link<Request, Event>) + Send + 'static,
    ) -> std::io::Result<Self> {
        let (request_sender, requests) = sync_channel(spec.request_capacity);
        let (event_sender, events) = sync_channel(spec.event_capacity);
        let cancellation = Arc::new(Cancellation::default());
        let link = Link {
            requests,
            events: event_sender,
            cancellation: Arc::clone(&cancellation),
            newest_request_wins: spec.newest_request_wins,
            wake: spec.wake,
        };
        let handle = std::thread::Builder::new()
            .name(spec.name.to_string())
            .spawn(move || body(link))?;
        Ok(Worker {
            name: spec.name,
            requests: Some(request_sender),
            events,
            cancellation,
            handle: Some(handle),
        })
    }
}

impl<Request, Event> Worker<Request, Event> {
    /// Queues a request without waiting; gives it back when the queue is full or the thread
    /// has ended.
    pub fn try_send(&self, request: Request) -> Result<(), Request> {
        let Some(sender) = &self.requests else {
            return Err(request);
        };
        sender.try_send(request).map_err(|e| match e {
            TrySendError::Full(r) | TrySendError::Disconnected(r) => r,
        })
    }

    /// The next event, if one is waiting.
    pub fn try_next(&self) -> Option<Event> {
        self.events.try_recv().ok()
    }

    /// Waits for the next event; `None` once the thread has ended and every event was read.
    pub fn next_blocking(&self) -> Option<Event> {
        self.events.recv().ok()
    }

    /// Asks the thread to stop after the unit of work in hand.
    pub fn cancel(&self) {
        self.cancellation.stop.store(true, Ordering::Relaxed);
    }

    /// Cancels the work of every generation before `generation`.
    pub fn cancel_before(&self, generation: u64) {
        self.cancellation
            .generation_floor
            .fetch_max(generation, Ordering::Relaxed);
    }
}

impl<Request, Event> Drop for Worker<Request, Event> {
    fn drop(&mut self) {
        self.cancel();
        self.requests = None; // closes the queue: the thread ends after the work in hand
        while self.events.try_recv().is_ok() {}
        // Closing the event queue wakes a thread blocked on a full one.
        drop(std::mem::replace(&mut self.events, sync_channel(1).1));
        if let Some(handle) = self.handle.take()
            && let Err(panic) = handle.join()
        {
            log::error!(
                "background worker {} panicked: {}",
                self.name,
                panic_message(panic.as_ref())
            );
        }
    }
}

/// The text a panic carried (`panic!("…")`), for an error message.
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_string()))
        .unwrap_or_else(|| "no reason given".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_come_back_as_events_and_a_full_queue_gives_the_request_back() {
        let (gate_open, gate) = sync_channel::<()>(0);
        let worker = Worker::spawn(WorkerSpec::new("fovea-test", 1, 4), move |link| {
            let _ = gate.recv();
            while let Some(n) = link.recv() {
                if !link.send(n * 2) {
                    return;
                }
            }
        })
        .expect("spawns");
        assert!(worker.try_send(1_u32).is_ok());
        assert_eq!(worker.try_send(2), Err(2), "the queue holds one request");
        gate_open.send(()).expect("worker waits at the gate");
        assert_eq!(worker.next_blocking(), Some(2));
    }

    #[test]
    fn the_newest_request_wins_when_several_wait() {
        let (gate_open, gate) = sync_channel::<()>(0);
        let spec = WorkerSpec::new("fovea-test", 8, 8).newest_request_wins();
        let worker = Worker::spawn(spec, move |link| {
            let _ = gate.recv();
            while let Some(n) = link.recv() {
                link.send(n);
            }
        })
        .expect("spawns");
        for n in 1..=5_u32 {
            worker.try_send(n).expect("room");
        }
        gate_open.send(()).expect("gate");
        assert_eq!(worker.next_blocking(), Some(5));
    }

    #[test]
    fn work_of_an_older_generation_is_stale_and_drop_joins_a_blocked_thread() {
        let (gate_open, gate) = sync_channel::<()>(0);
        let worker = Worker::spawn(WorkerSpec::new("fovea-test", 8, 1), move |link| {
            let _ = gate.recv();
            while let Some(generation) = link.recv() {
                // The one-slot event queue fills; the second send blocks until drop.
                if !link.send((generation, link.is_stale(generation))) {
                    return;
                }
            }
        })
        .expect("spawns");
        worker.try_send(1_u64).expect("room");
        worker.try_send(2).expect("room");
        worker.cancel_before(2);
        gate_open.send(()).expect("gate");
        assert_eq!(worker.next_blocking(), Some((1, true)));
        assert_eq!(worker.next_blocking(), Some((2, false)));
        worker.try_send(3).expect("room");
        worker.try_send(4).expect("room");
        drop(worker); // would hang if the thread stayed blocked on its full event queue
    }
}
