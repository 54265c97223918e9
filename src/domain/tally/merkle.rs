//! The RFC 6962 (Certificate Transparency) Merkle tree hash, as the published
//! tallies use it: SHA-256, leaf hash `H(0x00 ‖ line)`, interior node
//! `H(0x01 ‖ left ‖ right)`, the left subtree of `n` leaves holding the largest
//! power of two smaller than `n`, and `H("")` for an empty tree.
//!
//! Three ways in, each bounded in memory:
//! - [`RootBuilder`] takes leaves one at a time and keeps one hash per set bit
//!   of the count (O(log n)), so freezing, exporting and verifying a slot never
//!   hold its lines. It also reports every perfect aligned subtree it
//!   completes, which is what the store keeps for proofs.
//! - [`audit_path`] builds the RFC 6962 §2.1.1 `PATH(m, D[n])` from hashes of
//!   perfect aligned subtrees ([`PerfectSubtrees`]); [`ChunkedSubtrees`] answers
//!   those from stored hashes above a chunk level and recomputes the levels
//!   below from the one or two chunks of leaves a proof touches.
//! - [`root_from_inclusion_proof`] / [`verify_inclusion`] check a path
//!   (RFC 9162 §2.1.3.2), which is what a voter's browser does too.

use std::fmt;

use sha2::{Digest, Sha256};

/// A SHA-256 value in the tree: a leaf hash, a node hash or a root.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MerkleHash([u8; 32]);

impl MerkleHash {
    /// Wraps 32 raw bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lowercase hex, as the API and the CLI print it.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Reads 64 hex digits (either case; anything else is refused).
    pub fn parse_hex(text: &str) -> Option<Self> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text.trim(), &mut bytes).ok()?;
        Some(Self(bytes))
    }
}

impl fmt::Debug for MerkleHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MerkleHash({})", self.to_hex())
    }
}

impl fmt::Display for MerkleHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// The root of a tree with no leaves: SHA-256 of the empty string.
pub fn empty_root() -> MerkleHash {
    MerkleHash(Sha256::digest([]).into())
}

/// The hash of one leaf: `SHA-256(0x00 ‖ data)`.
pub fn leaf_hash(data: &[u8]) -> MerkleHash {
    let mut hasher = Sha256::new();
    hasher.update([0x00]);
    hasher.update(data);
    MerkleHash(hasher.finalize().into())
}

/// The hash of an interior node: `SHA-256(0x01 ‖ left ‖ right)`.
pub fn node_hash(left: &MerkleHash, right: &MerkleHash) -> MerkleHash {
    let mut hasher = Sha256::new();
    hasher.update([0x01]);
    hasher.update(left.0);
    hasher.update(right.0);
    MerkleHash(hasher.finalize().into())
}

/// The largest power of two strictly smaller than `n` (`n ≥ 2`): where RFC
/// 6962 splits a tree of `n` leaves.
fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

/// The Merkle tree hash of a list of leaf hashes, by the RFC's recursive
/// definition. For tests and small in-memory lists; [`RootBuilder`] streams.
pub fn root_of(leaves: &[MerkleHash]) -> MerkleHash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = split_point(n as u64) as usize;
            node_hash(&root_of(&leaves[..k]), &root_of(&leaves[k..]))
        }
    }
}

/// A perfect aligned subtree: the `2^level` leaves starting at leaf
/// `index · 2^level`, with its hash. Level 0 is a single leaf.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PerfectSubtree {
    /// Height: the subtree holds `2^level` leaves.
    pub level: u32,
    /// Position among the subtrees of that level, from 0.
    pub index: u64,
    /// Its Merkle tree hash.
    pub hash: MerkleHash,
}

/// Computes a root from leaves pushed one at a time, in O(log n) memory: the
/// RFC 6962 tree of `n` leaves is the perfect subtrees of `n`'s binary
/// decomposition, left to right, folded from the right.
#[derive(Debug, Clone, Default)]
pub struct RootBuilder {
    /// Completed perfect subtrees not yet merged, levels strictly falling.
    stack: Vec<(u32, MerkleHash)>,
    size: u64,
}

impl RootBuilder {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Leaves pushed so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends a leaf hash.
    pub fn push(&mut self, leaf: MerkleHash) {
        self.push_reporting(leaf, |_| {});
    }

    /// Appends a leaf hash and reports, bottom up, every perfect aligned
    /// subtree this leaf completes (the leaf itself at level 0 first). The
    /// store keeps the ones at or above its chunk level for proofs.
    pub fn push_reporting(&mut self, leaf: MerkleHash, mut completed: impl FnMut(PerfectSubtree)) {
        let mut subtree = PerfectSubtree { level: 0, index: self.size, hash: leaf };
        self.size += 1;
        completed(subtree);
        while let Some(&(level, left)) = self.stack.last()
            && level == subtree.level
        {
            self.stack.pop();
            subtree =
                PerfectSubtree { level: level + 1, index: subtree.index >> 1, hash: node_hash(&left, &subtree.hash) };
            completed(subtree);
        }
        self.stack.push((subtree.level, subtree.hash));
    }

    /// The root of the leaves pushed so far.
    pub fn root(&self) -> MerkleHash {
        let mut pending = self.stack.iter().rev();
        let Some(&(_, mut root)) = pending.next() else {
            return empty_root();
        };
        for (_, left) in pending {
            root = node_hash(left, &root);
        }
        root
    }
}

/// Answers the hash of any perfect aligned subtree of one tree.
pub trait PerfectSubtrees {
    /// Why a hash could not be read.
    type Error;

    /// The hash of the `2^level` leaves starting at leaf `index · 2^level`.
    fn perfect_subtree(&mut self, level: u32, index: u64) -> Result<MerkleHash, Self::Error>;
}

/// Every leaf hash in memory: answers any subtree by hashing its leaves. For
/// tests and small trees; the store answers through [`ChunkedSubtrees`].
#[derive(Debug, Clone, Copy)]
pub struct AllLeaves<'a>(pub &'a [MerkleHash]);

/// A subtree asked for lies outside the leaves at hand (inconsistent data).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no subtree at level {level}, index {index}: the leaves at hand end before it")]
pub struct MissingSubtree {
    /// The level asked for.
    pub level: u32,
    /// The index asked for.
    pub index: u64,
}

/// The perfect subtree at `(level, index)` among `leaves` (which start at
/// leaf `first_leaf` of the whole tree).
fn subtree_from_leaves(
    leaves: &[MerkleHash],
    first_leaf: u64,
    level: u32,
    index: u64,
) -> Result<MerkleHash, MissingSubtree> {
    let missing = MissingSubtree { level, index };
    let width = 1u64.checked_shl(level).ok_or(missing)?;
    let start = index.checked_mul(width).and_then(|start| start.checked_sub(first_leaf)).ok_or(missing)?;
    let end = start.checked_add(width).ok_or(missing)?;
    let (start, end) = (usize::try_from(start).map_err(|_| missing)?, usize::try_from(end).map_err(|_| missing)?);
    leaves.get(start..end).map(root_of).ok_or(missing)
}

impl PerfectSubtrees for AllLeaves<'_> {
    type Error = MissingSubtree;

    fn perfect_subtree(&mut self, level: u32, index: u64) -> Result<MerkleHash, MissingSubtree> {
        subtree_from_leaves(self.0, 0, level, index)
    }
}

/// Why an audit path could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError<E> {
    /// The leaf index is not below the tree size.
    #[error("leaf {index} is not in a tree of {size} leaves")]
    NoSuchLeaf {
        /// The index asked for.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// A subtree hash could not be read.
    #[error("cannot read a subtree hash: {0}")]
    Source(E),
}

/// The RFC 6962 §2.1.1 audit path `PATH(m, D[n])` of leaf `leaf_index` in a
/// tree of `tree_size` leaves: sibling hashes from the leaf up. It reads at
/// most about 2·log2(n) perfect subtree hashes: one per level, plus the
/// pieces of the single ragged right-hand sibling a path can have.
pub fn audit_path<S: PerfectSubtrees>(
    leaf_index: u64,
    tree_size: u64,
    source: &mut S,
) -> Result<Vec<MerkleHash>, PathError<S::Error>> {
    if leaf_index >= tree_size {
        return Err(PathError::NoSuchLeaf { index: leaf_index, size: tree_size });
    }
    let mut path = Vec::new();
    path_into(leaf_index, 0, tree_size, source, &mut path).map_err(PathError::Source)?;
    Ok(path)
}

fn path_into<S: PerfectSubtrees>(
    leaf: u64,
    start: u64,
    end: u64,
    source: &mut S,
    path: &mut Vec<MerkleHash>,
) -> Result<(), S::Error> {
    let n = end - start;
    if n <= 1 {
        return Ok(());
    }
    let split = start + split_point(n);
    if leaf < split {
        path_into(leaf, start, split, source, path)?;
        path.push(range_hash(split, end, source)?);
    } else {
        path_into(leaf, split, end, source, path)?;
        path.push(range_hash(start, split, source)?);
    }
    Ok(())
}

/// The Merkle tree hash of leaves `start..end` as a subtree of the RFC tree:
/// one stored perfect subtree when the range is one, else split like the RFC.
fn range_hash<S: PerfectSubtrees>(start: u64, end: u64, source: &mut S) -> Result<MerkleHash, S::Error> {
    let n = end - start;
    if n.is_power_of_two() && start.is_multiple_of(n) {
        let level = n.trailing_zeros();
        return source.perfect_subtree(level, start >> level);
    }
    let split = start + split_point(n);
    let left = range_hash(start, split, source)?;
    let right = range_hash(split, end, source)?;
    Ok(node_hash(&left, &right))
}

/// Why an inclusion proof does not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InclusionError {
    /// The leaf index is not below the tree size.
    #[error("leaf {index} is not in a tree of {size} leaves")]
    IndexOutOfRange {
        /// The claimed index.
        index: u64,
        /// The claimed tree size.
        size: u64,
    },
    /// The path has more or fewer hashes than this index and size need.
    #[error("the audit path has the wrong length for leaf {index} of {size}")]
    WrongPathLength {
        /// The claimed index.
        index: u64,
        /// The claimed tree size.
        size: u64,
    },
    /// The path leads to another root.
    #[error("the audit path leads to root {computed}, not {expected}")]
    RootMismatch {
        /// The root the proof claims.
        expected: MerkleHash,
        /// The root the path leads to.
        computed: MerkleHash,
    },
}

/// The root an audit path leads to from a leaf hash (RFC 9162 §2.1.3.2).
pub fn root_from_inclusion_proof(
    leaf_index: u64,
    tree_size: u64,
    leaf: &MerkleHash,
    path: &[MerkleHash],
) -> Result<MerkleHash, InclusionError> {
    if leaf_index >= tree_size {
        return Err(InclusionError::IndexOutOfRange { index: leaf_index, size: tree_size });
    }
    let wrong_length = InclusionError::WrongPathLength { index: leaf_index, size: tree_size };
    let (mut position, mut last) = (leaf_index, tree_size - 1);
    let mut root = *leaf;
    for sibling in path {
        if last == 0 {
            return Err(wrong_length);
        }
        if position & 1 == 1 || position == last {
            root = node_hash(sibling, &root);
            // A left sibling ends this subtree: climb past the levels where
            // this node was the lone (promoted) rightmost child.
            while position & 1 == 0 && position != 0 {
                position >>= 1;
                last >>= 1;
            }
        } else {
            root = node_hash(&root, sibling);
        }
        position >>= 1;
        last >>= 1;
    }
    if last != 0 {
        return Err(wrong_length);
    }
    Ok(root)
}

/// Checks that `path` proves leaf `leaf_index` with hash `leaf` is in the
/// tree of `tree_size` leaves whose root is `root`.
pub fn verify_inclusion(
    leaf_index: u64,
    tree_size: u64,
    leaf: &MerkleHash,
    path: &[MerkleHash],
    root: &MerkleHash,
) -> Result<(), InclusionError> {
    let computed = root_from_inclusion_proof(leaf_index, tree_size, leaf, path)?;
    if computed == *root { Ok(()) } else { Err(InclusionError::RootMismatch { expected: *root, computed }) }
}

/// What the store keeps of a frozen tree: the hashes of perfect aligned
/// subtrees at or above the chunk level, and a way to regenerate the leaf
/// hashes of one chunk (`2^chunk_level` consecutive leaves; the last chunk may
/// be shorter) from frozen records.
pub trait FrozenTree {
    /// Why something could not be read.
    type Error;

    /// A stored perfect subtree hash (`level ≥` the chunk level).
    fn stored_subtree(&mut self, level: u32, index: u64) -> Result<MerkleHash, Self::Error>;

    /// The leaf hashes of chunk `chunk`, regenerated. The store checks them
    /// against the chunk's stored hash before handing them out, so a proof is
    /// never built from lines that differ from the frozen ones.
    fn chunk_leaves(&mut self, chunk: u64) -> Result<Vec<MerkleHash>, Self::Error>;
}

/// Why [`ChunkedSubtrees`] could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChunkedError<E> {
    /// The frozen tree could not be read.
    #[error("{0}")]
    Source(E),
    /// A chunk had fewer leaves than the subtree needs.
    #[error("{0}")]
    Short(MissingSubtree),
}

/// Answers [`PerfectSubtrees`] from a [`FrozenTree`]: levels at or above
/// `chunk_level` from storage, lower ones hashed from the chunk's leaves. An
/// audit path touches at most two chunks (the leaf's own, and the last,
/// partial one for the ragged right edge), visited one after the other, so
/// one cached chunk is enough.
#[derive(Debug)]
pub struct ChunkedSubtrees<T> {
    tree: T,
    chunk_level: u32,
    cached: Option<(u64, Vec<MerkleHash>)>,
}

impl<T: FrozenTree> ChunkedSubtrees<T> {
    /// Reads `tree`, whose stored subtrees start at `chunk_level`.
    pub fn new(tree: T, chunk_level: u32) -> Self {
        Self { tree, chunk_level, cached: None }
    }

    /// Gives the frozen tree back (e.g. to read its counters).
    pub fn into_inner(self) -> T {
        self.tree
    }
}

impl<T: FrozenTree> PerfectSubtrees for ChunkedSubtrees<T> {
    type Error = ChunkedError<T::Error>;

    fn perfect_subtree(&mut self, level: u32, index: u64) -> Result<MerkleHash, Self::Error> {
        if level >= self.chunk_level {
            return self.tree.stored_subtree(level, index).map_err(ChunkedError::Source);
        }
        let short = ChunkedError::Short(MissingSubtree { level, index });
        let first_leaf = 1u64.checked_shl(level).and_then(|width| index.checked_mul(width)).ok_or(short)?;
        let chunk = first_leaf >> self.chunk_level;
        if self.cached.as_ref().is_none_or(|(cached, _)| *cached != chunk) {
            let leaves = self.tree.chunk_leaves(chunk).map_err(ChunkedError::Source)?;
            self.cached = Some((chunk, leaves));
        }
        let leaves = self.cached.as_ref().map(|(_, leaves)| leaves.as_slice()).unwrap_or_default();
        subtree_from_leaves(leaves, chunk << self.chunk_level, level, index).map_err(ChunkedError::Short)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // Reference data from transparency-dev/merkle (the Certificate
    // Transparency team's Go library), `proof/verify_test.go` at commit
    // 02194e9afb6c1d95b5381350007963aa70fff472: the eight test leaves, the
    // roots of the trees of their first 1..8 leaves, and inclusion proofs
    // (there with 1-based leaf numbers, here 0-based indices).
    const CT_LEAVES: [&str; 8] =
        ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"];
    const CT_ROOTS: [&str; 8] = [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];
    const CT_EMPTY_ROOT: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    const CT_PROOFS: [(u64, u64, &[&str]); 5] = [
        (0, 1, &[]),
        (
            0,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            5,
            8,
            &[
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (2, 3, &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
        (
            1,
            5,
            &[
                "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
    ];

    fn ct_leaf_hashes() -> Vec<MerkleHash> {
        CT_LEAVES.iter().map(|data| leaf_hash(&hex::decode(data).expect("hex"))).collect()
    }

    fn h(text: &str) -> MerkleHash {
        MerkleHash::parse_hex(text).expect("64 hex digits")
    }

    fn streamed_root(leaves: &[MerkleHash]) -> MerkleHash {
        let mut builder = RootBuilder::new();
        leaves.iter().for_each(|leaf| builder.push(*leaf));
        builder.root()
    }

    #[test]
    fn reference_roots_for_0_1_2_3_and_7_leaves_and_every_size_up_to_8() {
        let leaves = ct_leaf_hashes();
        assert_eq!(empty_root(), h(CT_EMPTY_ROOT));
        assert_eq!(streamed_root(&[]), h(CT_EMPTY_ROOT));
        for (size, expected) in (1..=8).zip(CT_ROOTS) {
            assert_eq!(root_of(&leaves[..size]), h(expected), "recursive root of {size} leaves");
            assert_eq!(streamed_root(&leaves[..size]), h(expected), "streamed root of {size} leaves");
        }
    }

    #[test]
    fn reference_inclusion_proofs() {
        let leaves = ct_leaf_hashes();
        for (index, size, expected) in CT_PROOFS {
            let expected: Vec<_> = expected.iter().map(|text| h(text)).collect();
            let used = &leaves[..size as usize];
            let path = audit_path(index, size, &mut AllLeaves(used)).expect("path");
            assert_eq!(path, expected, "path of leaf {index} in {size}");
            let root = h(CT_ROOTS[size as usize - 1]);
            assert_eq!(verify_inclusion(index, size, &leaves[index as usize], &path, &root), Ok(()));
        }
    }

    #[test]
    fn tampered_proofs_fail() {
        let leaves = ct_leaf_hashes();
        let root = h(CT_ROOTS[7]);
        let path = audit_path(5, 8, &mut AllLeaves(&leaves)).expect("path");
        let leaf = leaves[5];
        assert!(verify_inclusion(4, 8, &leaf, &path, &root).is_err(), "wrong index");
        assert!(verify_inclusion(6, 8, &leaf, &path, &root).is_err(), "wrong index");
        assert!(verify_inclusion(5, 16, &leaf, &path, &root).is_err(), "wrong size");
        assert!(verify_inclusion(5, 4, &leaf, &path, &root).is_err(), "wrong size");
        assert!(verify_inclusion(5, 8, &leaves[4], &path, &root).is_err(), "wrong leaf");
        assert!(verify_inclusion(5, 8, &leaf, &path[..2], &root).is_err(), "short path");
        let mut long = path.clone();
        long.push(root);
        assert!(verify_inclusion(5, 8, &leaf, &long, &root).is_err(), "trailing hash");
        assert!(verify_inclusion(8, 8, &leaf, &path, &root).is_err(), "index past the end");
        assert!(verify_inclusion(0, 0, &leaf, &[], &empty_root()).is_err(), "empty tree");
        assert!(matches!(audit_path(8, 8, &mut AllLeaves(&leaves)), Err(PathError::NoSuchLeaf { .. })));
    }

    #[test]
    fn the_builder_reports_every_perfect_subtree_once() {
        let leaves: Vec<_> = (0u32..11).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let mut builder = RootBuilder::new();
        let mut reported = Vec::new();
        for leaf in &leaves {
            builder.push_reporting(*leaf, |subtree| reported.push(subtree));
        }
        // 11 leaves: 11 + 5 + 2 + 1 perfect aligned subtrees.
        assert_eq!(reported.len(), 19);
        for subtree in reported {
            let expected = AllLeaves(&leaves).perfect_subtree(subtree.level, subtree.index).expect("inside");
            assert_eq!(subtree.hash, expected, "{subtree:?}");
        }
    }

    /// A frozen tree in memory, built the way the store freezes a slot:
    /// only subtrees at or above `CHUNK` are kept, chunks are regenerated from
    /// the leaves, and every read is counted.
    struct MemoryFrozen {
        stored: std::collections::HashMap<(u32, u64), MerkleHash>,
        leaves: Vec<MerkleHash>,
        stored_reads: usize,
        chunk_reads: usize,
    }

    const CHUNK: u32 = 3;

    impl MemoryFrozen {
        fn freeze(leaves: &[MerkleHash]) -> (Self, MerkleHash) {
            let mut builder = RootBuilder::new();
            let mut stored = std::collections::HashMap::new();
            for leaf in leaves {
                builder.push_reporting(*leaf, |subtree| {
                    if subtree.level >= CHUNK {
                        stored.insert((subtree.level, subtree.index), subtree.hash);
                    }
                });
            }
            let frozen = Self { stored, leaves: leaves.to_vec(), stored_reads: 0, chunk_reads: 0 };
            (frozen, builder.root())
        }
    }

    impl FrozenTree for MemoryFrozen {
        type Error = String;

        fn stored_subtree(&mut self, level: u32, index: u64) -> Result<MerkleHash, String> {
            self.stored_reads += 1;
            self.stored.get(&(level, index)).copied().ok_or_else(|| format!("no stored ({level}, {index})"))
        }

        fn chunk_leaves(&mut self, chunk: u64) -> Result<Vec<MerkleHash>, String> {
            self.chunk_reads += 1;
            let start = (chunk as usize) << CHUNK;
            let end = (start + (1 << CHUNK)).min(self.leaves.len());
            Ok(self.leaves.get(start..end).ok_or("no such chunk")?.to_vec())
        }
    }

    proptest! {
        #[test]
        fn every_audit_path_verifies_and_stored_proofs_read_few_hashes(size in 1u64..300, pick in any::<u64>()) {
            let leaves: Vec<_> = (0..size).map(|i| leaf_hash(&i.to_le_bytes())).collect();
            let root = root_of(&leaves);
            prop_assert_eq!(streamed_root(&leaves), root);
            let (frozen, frozen_root) = MemoryFrozen::freeze(&leaves);
            prop_assert_eq!(frozen_root, root);
            let mut chunked = ChunkedSubtrees::new(frozen, CHUNK);
            for index in [0, size - 1, pick % size] {
                let path = audit_path(index, size, &mut AllLeaves(&leaves)).expect("path");
                prop_assert_eq!(verify_inclusion(index, size, &leaves[index as usize], &path, &root), Ok(()));
                chunked.tree.stored_reads = 0;
                chunked.tree.chunk_reads = 0;
                chunked.cached = None;
                let from_store = audit_path(index, size, &mut chunked).expect("stored path");
                prop_assert_eq!(&from_store, &path);
                let log2 = 64 - size.leading_zeros() as usize;
                prop_assert!(chunked.tree.stored_reads <= 2 * log2, "{} stored reads", chunked.tree.stored_reads);
                prop_assert!(chunked.tree.chunk_reads <= 2, "{} chunk reads", chunked.tree.chunk_reads);
            }
        }

        #[test]
        fn a_changed_dropped_or_swapped_leaf_changes_the_root(size in 2usize..100, a in any::<usize>(), b in any::<usize>()) {
            let leaves: Vec<_> = (0..size).map(|i| leaf_hash(&i.to_le_bytes())).collect();
            let root = root_of(&leaves);
            let (a, b) = (a % size, b % size);
            let mut changed = leaves.clone();
            changed[a] = leaf_hash(b"something else");
            prop_assert_ne!(root_of(&changed), root);
            let mut dropped = leaves.clone();
            dropped.remove(a);
            prop_assert_ne!(root_of(&dropped), root);
            if a != b {
                let mut swapped = leaves.clone();
                swapped.swap(a, b);
                prop_assert_ne!(root_of(&swapped), root);
                // A proof for one position does not prove the leaf at another.
                let path = audit_path(a as u64, size as u64, &mut AllLeaves(&leaves)).expect("path");
                prop_assert!(verify_inclusion(a as u64, size as u64, &leaves[b], &path, &root).is_err());
            }
        }
    }
}
