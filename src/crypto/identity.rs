//! A node's identity: an Ed25519 key pair (the public key is the node id)
//! and a separate X25519 static key for Noise (the Noise spec forbids using
//! a static key outside Noise), kept together in one key file.
//!
//! The key file is 72 bytes: the magic `FMKEY1\n\0`, the 32-byte Ed25519
//! seed, the 32-byte X25519 secret. It is created with mode 0600 (written to
//! a temporary file, synced, then renamed), and a key file that group or
//! others can read is refused, never silently fixed.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use rand::Rng;
use x25519_dalek::{PublicKey as NoisePublic, StaticSecret};
use zeroize::Zeroize;

use crate::id::NodeId;

/// First bytes of every key file.
pub const KEY_FILE_MAGIC: &[u8; 8] = b"FMKEY1\n\0";
/// Size of a key file.
pub const KEY_FILE_BYTES: usize = 8 + 32 + 32;
/// Domain tag of the signature binding a Noise static key to a node id.
pub const NOISE_BINDING_DOMAIN: &[u8] = b"flashmesh/noise-static/v1";

/// Why an identity could not be loaded, created or checked. Nothing was
/// written unless the variant says so.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityError {
    /// The key file's mode lets group or others read it (Unix only). It was
    /// not read and is left as it is; the message names the `chmod` that
    /// fixes it.
    #[error(
        "key file {path} can be read by others (mode {mode:03o}); \
         run `chmod 600 {path}` or use another --key-file"
    )]
    Exposed {
        /// The key file.
        path: PathBuf,
        /// Its permission bits (`mode & 0o777`).
        mode: u32,
    },
    /// The file is not [`KEY_FILE_BYTES`] long or does not start with
    /// [`KEY_FILE_MAGIC`]; it is left untouched.
    #[error("key file {path} is not a flashmesh key file ({reason})")]
    Malformed {
        /// The key file.
        path: PathBuf,
        /// What is wrong: the size found, or "wrong header".
        reason: String,
    },
    /// The key file path names a directory (say, the data directory given
    /// by mistake); nothing in it was read or written.
    #[error("{path} is a directory, not a key file")]
    IsDirectory {
        /// The path given as the key file.
        path: PathBuf,
    },
    /// Reading, creating or linking the key file (or its parent
    /// directories) failed; when saving, a new file may have been partly
    /// written beside it.
    #[error("cannot read or write key file {path}: {source}")]
    Io {
        /// The key file.
        path: PathBuf,
        /// The operating system's error; `AlreadyExists` when saving over an
        /// existing identity.
        source: std::io::Error,
    },
    /// A peer's signature binding its Noise static key to its node id does
    /// not verify: the link is refused.
    #[error("the signature binding the link key to node {node} does not verify")]
    BadBinding {
        /// The claimed node id, short form.
        node: String,
    },
    /// A peer's node id is not an Ed25519 point, or is a weak (small-order)
    /// key: the link is refused.
    #[error("node id {node} is not a usable Ed25519 key")]
    WeakKey {
        /// The claimed node id, short form.
        node: String,
    },
}

/// A node's secret keys. Wiped on drop; `Debug` shows only the node id.
pub struct Identity {
    signing: SigningKey,
    noise: StaticSecret,
}

impl Identity {
    /// A fresh identity from the thread's cryptographic RNG.
    pub fn generate() -> Identity {
        let mut rng = rand::rng();
        Identity::generate_with(&mut rng)
    }

    /// A fresh identity from `rng` (which must be cryptographically secure
    /// outside tests).
    pub fn generate_with<R: Rng + ?Sized>(rng: &mut R) -> Identity {
        let mut seed = [0u8; 32];
        let mut noise = [0u8; 32];
        rng.fill_bytes(&mut seed);
        rng.fill_bytes(&mut noise);
        let id = Identity::from_secrets(&seed, noise);
        seed.zeroize();
        id
    }

    fn from_secrets(seed: &[u8; 32], noise: [u8; 32]) -> Identity {
        Identity {
            signing: SigningKey::from_bytes(seed),
            noise: StaticSecret::from(noise),
        }
    }

    /// Loads the identity at `path`, or creates one there (and its parent
    /// directories) if there is no file. A restarted node keeps its id.
    pub fn load_or_create(path: &Path) -> Result<Identity, IdentityError> {
        match Identity::load(path) {
            Err(IdentityError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                let id = Identity::generate();
                id.save_new(path)?;
                Ok(id)
            }
            other => other,
        }
    }

    /// Loads an existing key file, refusing one others can read.
    pub fn load(path: &Path) -> Result<Identity, IdentityError> {
        let io = |source| IdentityError::Io {
            path: path.to_path_buf(),
            source,
        };
        let meta = fs::metadata(path).map_err(io)?;
        // Before the mode and size checks, whose words would not fit.
        if meta.is_dir() {
            return Err(IdentityError::IsDirectory {
                path: path.to_path_buf(),
            });
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(IdentityError::Exposed {
                    path: path.to_path_buf(),
                    mode,
                });
            }
        }
        let malformed = |reason: String| IdentityError::Malformed {
            path: path.to_path_buf(),
            reason,
        };
        if meta.len() != KEY_FILE_BYTES as u64 {
            return Err(malformed(format!(
                "{} bytes, expected {KEY_FILE_BYTES}",
                meta.len()
            )));
        }
        let mut bytes = fs::read(path).map_err(io)?;
        if bytes.len() != KEY_FILE_BYTES || &bytes[..8] != KEY_FILE_MAGIC {
            bytes.zeroize();
            return Err(malformed("wrong header".into()));
        }
        let mut seed = [0u8; 32];
        let mut noise = [0u8; 32];
        seed.copy_from_slice(&bytes[8..40]);
        noise.copy_from_slice(&bytes[40..72]);
        bytes.zeroize();
        let id = Identity::from_secrets(&seed, noise);
        seed.zeroize();
        Ok(id)
    }

    /// Writes a new key file at `path` with mode 0600; refuses to replace
    /// an existing file.
    pub fn save_new(&self, path: &Path) -> Result<(), IdentityError> {
        let io = |source| IdentityError::Io {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(io)?;
        }
        let tmp = path.with_extension("tmp");
        let mut opts = fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut bytes = Vec::with_capacity(KEY_FILE_BYTES);
        bytes.extend_from_slice(KEY_FILE_MAGIC);
        bytes.extend_from_slice(&self.signing.to_bytes());
        bytes.extend_from_slice(self.noise.as_bytes());
        let written = (|| {
            let mut f = opts.open(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()
        })();
        bytes.zeroize();
        written.map_err(io)?;
        // hard_link fails if `path` exists: never overwrite an identity.
        fs::hard_link(&tmp, path).map_err(io)?;
        fs::remove_file(&tmp).map_err(io)?;
        Ok(())
    }

    /// The node id: the Ed25519 public key.
    pub fn node_id(&self) -> NodeId {
        NodeId(self.signing.verifying_key().to_bytes())
    }

    /// The X25519 public key this node uses as its Noise static key.
    pub fn noise_public(&self) -> [u8; 32] {
        NoisePublic::from(&self.noise).to_bytes()
    }

    /// The X25519 secret, for the Noise handshake.
    pub fn noise_secret(&self) -> [u8; 32] {
        self.noise.to_bytes()
    }

    /// The X25519 secret matching the node id's Montgomery form
    /// (`VerifyingKey::to_montgomery`): Ed25519's expanded secret scalar
    /// bytes. Used only to open sealed direct messages
    /// ([`crate::crypto::dm`]); wiped when dropped.
    pub(crate) fn dm_secret(&self) -> StaticSecret {
        let mut bytes = self.signing.to_scalar_bytes();
        let secret = StaticSecret::from(bytes);
        bytes.zeroize();
        secret
    }

    /// Signs `NOISE_BINDING_DOMAIN || noise_public`: carried in the
    /// handshake so a link is bound to the node id it claims.
    pub fn noise_binding(&self) -> [u8; 64] {
        self.sign(&binding_message(&self.noise_public()))
    }

    /// An Ed25519 signature over `msg`.
    pub fn sign(&self, msg: &[u8]) -> [u8; 64] {
        self.signing.sign(msg).to_bytes()
    }
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Identity({})", self.node_id().fmt_short())
    }
}

fn binding_message(noise_public: &[u8; 32]) -> Vec<u8> {
    let mut m = Vec::with_capacity(NOISE_BINDING_DOMAIN.len() + 32);
    m.extend_from_slice(NOISE_BINDING_DOMAIN);
    m.extend_from_slice(noise_public);
    m
}

/// Checks that `node` signed `noise_public` (strict verification; weak,
/// small-order keys are refused).
pub fn verify_noise_binding(
    node: &NodeId,
    noise_public: &[u8; 32],
    signature: &[u8; 64],
) -> Result<(), IdentityError> {
    let key = VerifyingKey::from_bytes(node.as_bytes()).map_err(|_| IdentityError::WeakKey {
        node: node.fmt_short(),
    })?;
    if key.is_weak() {
        return Err(IdentityError::WeakKey {
            node: node.fmt_short(),
        });
    }
    key.verify_strict(
        &binding_message(noise_public),
        &Signature::from_bytes(signature),
    )
    .map_err(|_| IdentityError::BadBinding {
        node: node.fmt_short(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("flashmesh-identity-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn a_created_identity_is_reloaded_with_the_same_id_and_mode_0600() {
        let dir = temp_dir("reload");
        let path = dir.join("sub").join("identity.key");
        let a = Identity::load_or_create(&path).expect("created");
        let b = Identity::load_or_create(&path).expect("reloaded");
        assert_eq!(a.node_id(), b.node_id());
        assert_eq!(a.noise_public(), b.noise_public());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).expect("exists").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(!path.with_extension("tmp").exists());
        let _ = fs::remove_dir_all(&dir);
    }

    #[cfg(unix)]
    #[test]
    fn a_key_file_others_can_read_is_refused_with_the_fix() {
        use std::os::unix::fs::PermissionsExt;
        let dir = temp_dir("exposed");
        let path = dir.join("identity.key");
        Identity::generate().save_new(&path).expect("saved");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).expect("chmod");
        let err = Identity::load(&path).expect_err("refused");
        assert!(matches!(err, IdentityError::Exposed { mode: 0o644, .. }));
        assert!(err.to_string().contains("chmod 600"));
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_directory_given_as_the_key_file_is_called_a_directory() {
        let dir = temp_dir("is-a-directory");
        let path = dir.join("rooms");
        fs::create_dir_all(&path).expect("dir");
        #[cfg(unix)]
        {
            // A mode others can read must not be what the message is about.
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        for result in [Identity::load(&path), Identity::load_or_create(&path)] {
            let err = result.expect_err("refused");
            assert!(matches!(err, IdentityError::IsDirectory { .. }), "{err}");
            assert_eq!(
                err.to_string(),
                format!("{} is a directory, not a key file", path.display())
            );
        }
        assert!(path.is_dir(), "the directory is left alone");
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_malformed_key_file_is_refused_and_left_alone() {
        let dir = temp_dir("malformed");
        fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("identity.key");
        let mut opts = fs::OpenOptions::new();
        opts.write(true).create(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        opts.open(&path)
            .and_then(|mut f| f.write_all(&[0u8; KEY_FILE_BYTES]))
            .expect("written");
        let err = Identity::load_or_create(&path).expect_err("refused");
        assert!(matches!(err, IdentityError::Malformed { .. }), "{err}");
        assert_eq!(
            fs::read(&path).expect("still there"),
            vec![0u8; KEY_FILE_BYTES]
        );
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_existing_identity_is_never_overwritten() {
        let dir = temp_dir("overwrite");
        let path = dir.join("identity.key");
        let a = Identity::generate();
        a.save_new(&path).expect("saved");
        assert!(Identity::generate().save_new(&path).is_err());
        assert_eq!(Identity::load(&path).expect("loads").node_id(), a.node_id());
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_noise_binding_verifies_only_for_its_own_id_and_key() {
        let mut rng = crate::proto::EngineRng::seed_from_u64(1);
        let a = Identity::generate_with(&mut rng);
        let b = Identity::generate_with(&mut rng);
        let sig = a.noise_binding();
        assert!(verify_noise_binding(&a.node_id(), &a.noise_public(), &sig).is_ok());
        // Another node's id, or another link key, does not verify.
        assert!(matches!(
            verify_noise_binding(&b.node_id(), &a.noise_public(), &sig),
            Err(IdentityError::BadBinding { .. })
        ));
        assert!(matches!(
            verify_noise_binding(&a.node_id(), &b.noise_public(), &sig),
            Err(IdentityError::BadBinding { .. })
        ));
        // The identity point (a small-order, weak key) is refused.
        let mut weak = [0u8; 32];
        weak[0] = 1;
        assert!(matches!(
            verify_noise_binding(&NodeId(weak), &a.noise_public(), &sig),
            Err(IdentityError::WeakKey { .. })
        ));
    }

    #[test]
    fn debug_shows_only_the_short_id() {
        let id = Identity::generate();
        assert_eq!(
            format!("{id:?}"),
            format!("Identity({})", id.node_id().fmt_short())
        );
    }
}
