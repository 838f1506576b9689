//! The simulation's machinery: a clock, timers, and a tiny single-threaded executor whose
//! tasks sleep in simulated time. Every actor (arrivals, requests, background refreshes,
//! evictions, operators) is a task; the only event is a timer firing.

use std::{
    cell::{Cell, RefCell},
    cmp::{Ordering, Reverse},
    collections::{BinaryHeap, HashMap},
    future::Future,
    pin::Pin,
    rc::Rc,
    sync::{Arc, Mutex},
    task::{Context, Poll, Wake, Waker},
};

/// A task of the simulation.
type Task = Pin<Box<dyn Future<Output = ()>>>;

/// A timer: wake `waker` at simulated time `at` (ties in the order they were set).
struct Timer {
    at: u64,
    seq: u64,
    waker: Waker,
}

impl PartialEq for Timer {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl Eq for Timer {}

impl PartialOrd for Timer {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Timer {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// Wakes one task by putting its id on the ready list.
struct TaskWaker {
    id: u64,
    ready: Arc<Mutex<Vec<u64>>>,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.ready.lock().unwrap().push(self.id);
    }
}

/// The clock, the timers and the tasks.
#[derive(Default)]
pub struct Engine {
    now: Cell<u64>,
    seq: Cell<u64>,
    timers: RefCell<BinaryHeap<Reverse<Timer>>>,
    tasks: RefCell<HashMap<u64, (Task, Waker)>>,
    ready: Arc<Mutex<Vec<u64>>>,
}

impl Engine {
    /// Simulated Unix ms.
    pub fn now(&self) -> u64 {
        self.now.get()
    }

    /// Starts `task`; it first runs at the next turn of the executor, at the current time.
    pub fn spawn(&self, task: impl Future<Output = ()> + 'static) {
        let id = self.seq.get();
        self.seq.set(id + 1);
        let waker = Waker::from(Arc::new(TaskWaker {
            id,
            ready: self.ready.clone(),
        }));
        self.tasks.borrow_mut().insert(id, (Box::pin(task), waker));
        self.ready.lock().unwrap().push(id);
    }

    /// A future that completes at simulated time `at`.
    pub fn sleep_until(self: &Rc<Self>, at: u64) -> Sleep {
        Sleep {
            engine: self.clone(),
            at,
        }
    }

    /// Runs every task until no timer is due before `end`; the clock then reads `end`.
    pub fn run_until(&self, end: u64) {
        loop {
            self.poll_ready();
            let due = self
                .timers
                .borrow()
                .peek()
                .is_some_and(|Reverse(t)| t.at <= end);
            if !due {
                break;
            }
            let Some(Reverse(timer)) = self.timers.borrow_mut().pop() else {
                break;
            };
            self.now.set(self.now.get().max(timer.at));
            timer.waker.wake();
        }
        self.now.set(self.now.get().max(end));
    }

    fn poll_ready(&self) {
        loop {
            let ids: Vec<u64> = std::mem::take(&mut *self.ready.lock().unwrap());
            if ids.is_empty() {
                return;
            }
            for id in ids {
                let Some((mut task, waker)) = self.tasks.borrow_mut().remove(&id) else {
                    continue;
                };
                if task
                    .as_mut()
                    .poll(&mut Context::from_waker(&waker))
                    .is_pending()
                {
                    self.tasks.borrow_mut().insert(id, (task, waker));
                }
            }
        }
    }

    fn set_timer(&self, at: u64, waker: Waker) {
        let seq = self.seq.get();
        self.seq.set(seq + 1);
        self.timers
            .borrow_mut()
            .push(Reverse(Timer { at, seq, waker }));
    }
}

/// Completes at a simulated time.
pub struct Sleep {
    engine: Rc<Engine>,
    at: u64,
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.engine.now() >= self.at {
            Poll::Ready(())
        } else {
            self.engine.set_timer(self.at, cx.waker().clone());
            Poll::Pending
        }
    }
}
