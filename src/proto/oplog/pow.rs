//! Proof of work on ops: a room can ask that ops carry work (a room
//! policy op of the roster, `docs/protocol.md`, "Proof of work"), so that
//! a stranger with the room code pays for each identity it makes, or for
//! every op.
//!
//! The work is the op id's leading zero bits: the author varies the op's
//! `pow_nonce` (which the id covers) until SHA-256 over the id domain and
//! the op's encoding starts with enough zero bits, then signs. Checking
//! costs nothing (the id is computed anyway); making `b` bits costs about
//! `2^b` hashes. Pure: the caller decides where the hashing runs (a node
//! runs it off its async runtime) and may stop it.

use super::op::Op;
use crate::id::OpId;

/// The most bits a room may ask for: 22 bits take about 0.34 s on one
/// core of the reference machine on average, and several times that for
/// the unlucky op or on a phone; more would make the room unusable.
pub const POW_BITS_MAX: u8 = 22;

/// How many leading bits of `id` are zero.
pub fn leading_zero_bits(id: &OpId) -> u32 {
    let mut bits = 0;
    for byte in id.as_bytes() {
        if *byte == 0 {
            bits += 8;
        } else {
            return bits + byte.leading_zeros();
        }
    }
    bits
}

/// Whether `id` carries `bits` of work.
pub fn meets(id: &OpId, bits: u8) -> bool {
    leading_zero_bits(id) >= u32::from(bits)
}

/// Sets `op.pow_nonce` so that its id carries `bits` of work, trying
/// nonces from the current one up. `keep_going` is asked every 4,096 tries
/// with the number tried so far; when it says no, the search stops and
/// `None` is returned (the op is left with the last nonce tried). Returns
/// the number of tries.
pub fn grind(op: &mut Op, bits: u8, mut keep_going: impl FnMut(u64) -> bool) -> Option<u64> {
    let mut tries: u64 = 0;
    loop {
        tries += 1;
        if meets(&op.id(), bits) {
            return Some(tries);
        }
        op.pow_nonce = op.pow_nonce.wrapping_add(1);
        if tries.is_multiple_of(4096) && !keep_going(tries) {
            return None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::NodeId;

    fn op() -> Op {
        Op {
            author: NodeId([7; 32]),
            seq: 1,
            prev: None,
            lamport: 1,
            wall_ms: 1_000,
            applet: "chat".into(),
            kind: 1,
            body: vec![1, 2, 3],
            pow_nonce: 0,
        }
    }

    #[test]
    fn leading_zero_bits_count_across_bytes() {
        let mut b = [0xffu8; 32];
        assert_eq!(leading_zero_bits(&OpId(b)), 0);
        b[0] = 0;
        b[1] = 0x10;
        assert_eq!(leading_zero_bits(&OpId(b)), 11);
        assert_eq!(leading_zero_bits(&OpId([0; 32])), 256);
        assert!(meets(&OpId(b), 11) && !meets(&OpId(b), 12));
    }

    #[test]
    fn grinding_finds_a_nonce_with_the_work_and_can_be_stopped() {
        let mut o = op();
        let tries = grind(&mut o, 12, |_| true).expect("found");
        assert!(meets(&o.id(), 12), "the id carries 12 bits");
        assert!(tries >= 1);
        let mut o = op();
        assert_eq!(grind(&mut o, 40, |tried| tried < 8192), None, "stopped");
    }

    /// The vector in `docs/protocol.md` ("Proof of work"), checked
    /// independently with Python's `hashlib` over the op's encoding.
    #[test]
    fn the_documented_vector_holds() {
        let mut o = op();
        let tries = grind(&mut o, 8, |_| true).expect("found");
        assert_eq!(o.pow_nonce, 547, "the first nonce from 0 with 8 bits");
        assert_eq!(tries, 548);
        assert_eq!(
            o.id().to_string(),
            "0054f846af5852ff0476937398a6c3855cf8d0fcac6894e884a29c6840301520"
        );
        assert_eq!(leading_zero_bits(&o.id()), 9);
    }
}
