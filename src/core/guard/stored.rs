//! A guard object's state in memory and in its storage, kept in agreement: a change is in
//! force only once it is stored.

use std::cell::RefCell;

use serde::{de::DeserializeOwned, Serialize};

/// A storage operation failed; nothing may be assumed about what it wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StorageFailed;

/// An object's durable storage of one value. The edge implements it over Durable Object
/// storage; tests over fakes.
#[allow(async_fn_in_trait)] // Workers are single-threaded: no `Send` bound wanted.
pub trait Storage {
    /// The stored value, or `None` when nothing is stored.
    async fn load<T: DeserializeOwned>(&self) -> Result<Option<T>, StorageFailed>;
    /// Replaces the stored value.
    async fn save<T: Serialize>(&self, value: &T) -> Result<(), StorageFailed>;
}

/// An object's state: loaded on first use, kept in memory, written back after each change.
pub struct Stored<T, S> {
    storage: S,
    value: RefCell<Option<T>>,
}

impl<T: Default + Serialize + DeserializeOwned, S: Storage> Stored<T, S> {
    /// Nothing loaded yet.
    pub fn new(storage: S) -> Self {
        Self {
            storage,
            value: RefCell::new(None),
        }
    }

    /// The state, from memory or else from storage (empty when there is none); the caller
    /// puts it back.
    async fn take(&self) -> Result<T, StorageFailed> {
        let cached = self.value.borrow_mut().take();
        match cached {
            Some(value) => Ok(value),
            None => Ok(self.storage.load().await?.unwrap_or_default()),
        }
    }

    /// Runs `change` on the state and stores it. An object handles one event at a time and
    /// storage writes are ordered, so no other request interleaves. When the write fails, the
    /// change is dropped from memory too (the next request loads what storage holds), so that
    /// an answer "failed, nothing changed" is true.
    pub async fn update<R>(&self, change: impl FnOnce(&mut T) -> R) -> Result<R, StorageFailed> {
        let mut value = self.take().await?;
        let result = change(&mut value);
        self.storage.save(&value).await?;
        *self.value.borrow_mut() = Some(value);
        Ok(result)
    }

    /// Reads the state without changing or writing it.
    pub async fn read<R>(&self, look: impl FnOnce(&T) -> R) -> Result<R, StorageFailed> {
        let value = self.take().await?;
        let result = look(&value);
        *self.value.borrow_mut() = Some(value);
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use std::{
        cell::Cell,
        future::Future,
        pin::pin,
        task::{Context, Poll, Waker},
    };

    use super::*;

    /// Storage that holds JSON text and fails every write while `broken`.
    #[derive(Default)]
    struct FakeStorage {
        stored: RefCell<Option<String>>,
        broken: Cell<bool>,
        loads: Cell<usize>,
    }

    impl Storage for &FakeStorage {
        async fn load<T: DeserializeOwned>(&self) -> Result<Option<T>, StorageFailed> {
            self.loads.set(self.loads.get() + 1);
            let text = self.stored.borrow().clone();
            text.map(|t| serde_json::from_str(&t).map_err(|_| StorageFailed))
                .transpose()
        }

        async fn save<T: Serialize>(&self, value: &T) -> Result<(), StorageFailed> {
            if self.broken.get() {
                return Err(StorageFailed);
            }
            let text = serde_json::to_string(value).map_err(|_| StorageFailed)?;
            *self.stored.borrow_mut() = Some(text);
            Ok(())
        }
    }

    fn block_on<F: Future>(future: F) -> F::Output {
        match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(output) => output,
            Poll::Pending => panic!("the fake never waits"),
        }
    }

    #[test]
    fn a_change_whose_write_failed_is_not_in_force() {
        let storage = FakeStorage::default();
        let stored: Stored<Vec<u32>, _> = Stored::new(&storage);
        assert_eq!(block_on(stored.update(|v| v.push(1))), Ok(()));
        storage.broken.set(true);
        assert_eq!(block_on(stored.update(|v| v.push(2))), Err(StorageFailed));
        // The answer said "failed": the state agrees, now and after the object restarts.
        assert_eq!(block_on(stored.read(Vec::clone)), Ok(vec![1]));
        assert_eq!(storage.stored.borrow().as_deref(), Some("[1]"));
        storage.broken.set(false);
        assert_eq!(block_on(stored.update(|v| v.push(3))), Ok(()));
        assert_eq!(block_on(stored.read(Vec::clone)), Ok(vec![1, 3]));
    }

    #[test]
    fn the_state_is_loaded_once_and_then_kept_in_memory() {
        let storage = FakeStorage::default();
        let stored: Stored<Vec<u32>, _> = Stored::new(&storage);
        for i in 0..3 {
            block_on(stored.update(|v| v.push(i))).unwrap();
        }
        assert_eq!(block_on(stored.read(Vec::len)), Ok(3));
        assert_eq!(storage.loads.get(), 1);
    }
}
