//! The inputs: a seeded PRNG, and a mutator without coverage feedback that makes arbitrary
//! bytes and near-valid variants of a target's seeds (bit flips, inserted and deleted bytes,
//! repeated chunks, dictionary tokens, splices of other seeds).

/// A case: one byte string per field of the parser's input (a header, a body, …); `None` is
/// a field that is absent (no header at all).
pub type Input = Vec<Option<Vec<u8>>>;

/// SplitMix64: small, fast, and the same sequence for the same seed on every machine.
pub struct Rng(u64);

impl Rng {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// True once in `n` times.
    pub fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }

    /// A length in `0..=max`, mostly short: a bound drawn first, then a length below it.
    fn length(&mut self, max: usize) -> usize {
        let bound = [16, 256, max][self.below(3)].min(max);
        self.below(bound + 1)
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Bytes that end a token or change its meaning somewhere in our parsers.
const SPECIAL: &[u8] = b"%+=&: ;,\"\\{}[]/\t\r\n\x00\x7f\x80\xc3\xff";

/// What the mutator knows about a target: its seeds, words worth inserting, and the longest
/// field it makes (beyond the parser's own limit, to reach the refusal of long inputs).
pub struct Grammar<'a> {
    /// Valid or nearly valid inputs, all with the same number of fields.
    pub seeds: &'a [Input],
    /// Tokens of the input language (`%2B`, `"token_paths"`, `Basic `, …).
    pub dictionary: &'a [&'a [u8]],
    /// The longest field made.
    pub max_len: usize,
}

impl Grammar<'_> {
    /// A new case: once in eight times every field random bytes, else a seed with a few
    /// mutations (one in half the cases, two in a quarter, …).
    pub fn generate(&self, rng: &mut Rng) -> Input {
        let fields = self.seeds[0].len();
        if rng.one_in(8) {
            return (0..fields)
                .map(|_| Some(random_bytes(rng, self.max_len)))
                .collect();
        }
        let mut input = rng.pick(self.seeds).clone();
        let mut mutations = 1;
        while mutations < 16 && rng.one_in(2) {
            mutations += 1;
        }
        for _ in 0..mutations {
            let field = rng.below(fields);
            self.mutate(rng, &mut input[field], field);
        }
        input
    }

    /// One mutation of one field.
    fn mutate(&self, rng: &mut Rng, field: &mut Option<Vec<u8>>, index: usize) {
        if rng.one_in(40) {
            *field = match field {
                Some(_) => None,
                None => Some(Vec::new()),
            };
            return;
        }
        let Some(bytes) = field else { return };
        let at = rng.below(bytes.len() + 1);
        match rng.below(10) {
            0 if at < bytes.len() => bytes[at] ^= 1 << rng.below(8),
            1 if at < bytes.len() => bytes[at] = rng.next() as u8,
            2 => bytes.insert(at, *rng.pick(SPECIAL)),
            3 => {
                let end = (at + 1 + rng.below(8)).min(bytes.len());
                bytes.drain(at.min(end)..end);
            }
            4 => {
                let word = rng.pick(self.dictionary);
                bytes.splice(at..at, word.iter().copied());
            }
            5 => self.repeat(rng, bytes, at),
            6 => bytes.truncate(at),
            7 => self.splice(rng, bytes, at, index),
            8 => {
                let word = rng.pick(self.dictionary);
                let end = (at + word.len()).min(bytes.len());
                bytes.splice(at..end, word.iter().copied());
            }
            _ => {
                let noise = random_bytes(rng, 16);
                bytes.splice(at..at, noise);
            }
        }
        bytes.truncate(self.max_len);
    }

    /// Repeats a chunk many times: long inputs of one shape (`a=&a=&…`, `[[[[…`).
    fn repeat(&self, rng: &mut Rng, bytes: &mut Vec<u8>, at: usize) {
        let end = (at + 1 + rng.below(12)).min(bytes.len());
        let chunk: Vec<u8> = bytes[at.min(end)..end].to_vec();
        if chunk.is_empty() {
            return;
        }
        let times = rng.length(self.max_len / chunk.len());
        let copies = chunk.repeat(times);
        bytes.splice(end..end, copies);
    }

    /// Puts the tail of the same field of another seed at `at`.
    fn splice(&self, rng: &mut Rng, bytes: &mut Vec<u8>, at: usize, index: usize) {
        if let Some(other) = &rng.pick(self.seeds)[index] {
            let from = rng.below(other.len() + 1);
            bytes.truncate(at);
            bytes.extend_from_slice(&other[from..]);
        }
    }
}

/// Random bytes, mostly short.
fn random_bytes(rng: &mut Rng, max: usize) -> Vec<u8> {
    let len = rng.length(max);
    (0..len).map(|_| rng.next() as u8).collect()
}
