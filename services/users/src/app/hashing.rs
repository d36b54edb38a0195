//! Password hashing under a bound: argon2id needs 19 MiB per hash, so a burst of logins must
//! not run them all at once. A semaphore admits `concurrency` hashes; past it a caller waits
//! briefly, then gets `RESOURCE_EXHAUSTED`. Each admitted hash works in one of at most
//! `concurrency` memory blocks kept for reuse: the memory is allocated once and stays the
//! same whatever the load (allocating 19 MiB per hash left the allocator holding hundreds of
//! MiB after a few bursts in measurements).

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use argon2::{
    Algorithm, Argon2, Block, Params, PasswordHash, Version,
    password_hash::{self, Output, ParamsString, SaltString, rand_core::OsRng},
};
use tokio::sync::Semaphore;
use tuan_runtime::ApiError;

use crate::domain::{UserError, password::Password};

/// The bound and the reusable memory.
#[derive(Clone, Debug)]
pub struct HashingBound {
    permits: Arc<Semaphore>,
    memory: Arc<Mutex<Vec<Vec<Block>>>>,
    wait: Duration,
}

impl HashingBound {
    pub fn new(concurrency: usize, wait: Duration) -> Self {
        Self { permits: Arc::new(Semaphore::new(concurrency.max(1))), memory: Arc::new(Mutex::new(Vec::new())), wait }
    }

    /// Twice the CPUs this process may use (cgroup quotas count), at most 16: 16 hashes are
    /// about 300 MiB, under the 512 MiB the pod is allowed.
    pub fn machine_sized() -> usize {
        std::thread::available_parallelism().map_or(2, |n| n.get() * 2).min(16)
    }

    /// Runs `work` with a turn and a memory block, off the async threads.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let permit = tokio::time::timeout(self.wait, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| UserError::HashingBusy(self.wait.max(Duration::from_millis(100))))?
            .map_err(ApiError::internal)?;
        let pool = self.memory.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            // Never more blocks than permits: a block is taken only with a permit.
            let mut block = pool.lock().unwrap_or_else(|p| p.into_inner()).pop().unwrap_or_default();
            let result = work(&mut block);
            pool.lock().unwrap_or_else(|p| p.into_inner()).push(block);
            result
        })
        .await
        .map_err(ApiError::internal)
    }

    /// An argon2id PHC string for `password` (the crate's default parameters, a random salt).
    pub async fn hash(&self, password: Password) -> Result<String, ApiError> {
        self.run(move |memory| hash_with(memory, password.expose().as_bytes())).await?.map_err(ApiError::internal)
    }

    /// Checks `password` against `hash`; with no hash (unknown phone) it still spends the same
    /// time, so response times do not tell which part was wrong.
    pub async fn verify(&self, password: String, hash: Option<String>) -> Result<bool, ApiError> {
        const DUMMY: &str =
            "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0mhUMgrMeUEkRPu7kpfyT6Z/fEcJ8VSdgqX84tlLzHc";
        self.run(move |memory| {
            let known = hash.is_some();
            let stored = hash.unwrap_or_else(|| DUMMY.to_string());
            verify_with(memory, password.as_bytes(), &stored).map(|ok| ok && known)
        })
        .await?
        .map_err(ApiError::internal)
    }
}

/// `memory` grown to what `params` need (once; later hashes reuse it).
fn blocks_for<'m>(memory: &'m mut Vec<Block>, params: &Params) -> &'m mut [Block] {
    let needed = params.block_count();
    if memory.len() < needed {
        memory.resize(needed, Block::new());
    }
    &mut memory[..needed]
}

fn hash_with(memory: &mut Vec<Block>, password: &[u8]) -> Result<String, password_hash::Error> {
    let params = Params::default();
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let salt = SaltString::generate(&mut OsRng);
    let mut salt_buf = [0u8; 64];
    let salt_bytes = salt.as_salt().decode_b64(&mut salt_buf)?;
    let output = Output::init_with(params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN), |out| {
        Ok(argon.hash_password_into_with_memory(password, salt_bytes, out, blocks_for(memory, &params))?)
    })?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params)?,
        salt: Some(salt.as_salt()),
        hash: Some(output),
    };
    Ok(hash.to_string())
}

fn verify_with(memory: &mut Vec<Block>, password: &[u8], stored: &str) -> Result<bool, password_hash::Error> {
    let hash = PasswordHash::new(stored)?;
    let algorithm = Algorithm::try_from(hash.algorithm)?;
    let version = hash.version.map(Version::try_from).transpose()?.unwrap_or_default();
    let params = Params::try_from(&hash)?;
    let (Some(salt), Some(expected)) = (hash.salt, hash.hash) else {
        return Err(password_hash::Error::PhcStringField);
    };
    let mut salt_buf = [0u8; 64];
    let salt_bytes = salt.decode_b64(&mut salt_buf)?;
    let argon = Argon2::new(algorithm, version, params.clone());
    let computed = Output::init_with(expected.len(), |out| {
        Ok(argon.hash_password_into_with_memory(password, salt_bytes, out, blocks_for(memory, &params))?)
    })?;
    // Output compares in constant time.
    Ok(computed == expected)
}

#[cfg(test)]
mod tests {
    use argon2::{PasswordHasher as _, PasswordVerifier as _};

    use super::*;

    #[test]
    fn hashes_are_standard_phc_strings_both_ways() {
        let mut memory = Vec::new();
        let ours = hash_with(&mut memory, b"correct-horse-42").unwrap();
        // What the crate's own verifier accepts, and what it made we accept.
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(Argon2::default().verify_password(b"correct-horse-42", &parsed).is_ok());
        let salt = SaltString::generate(&mut OsRng);
        let theirs = Argon2::default().hash_password(b"correct-horse-42", &salt).unwrap().to_string();
        assert!(verify_with(&mut memory, b"correct-horse-42", &theirs).unwrap());
        assert!(!verify_with(&mut memory, b"wrong-horse-42", &theirs).unwrap());
        assert!(verify_with(&mut memory, b"correct-horse-42", &ours).unwrap());
        assert_eq!(memory.len(), Params::default().block_count(), "one block of memory, reused");
    }
}
