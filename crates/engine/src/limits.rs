//! What Crest accepts, in one place: the sample rates and channel counts of sources and
//! deliveries, and the memory a decoded file may take. Every entry point (the command line,
//! the desk, the reference slot) checks against these and refuses with the same words.

use std::ops::RangeInclusive;
use std::path::Path;

/// Sample rates a source may have (8 kHz telephone audio up to 8× 96 kHz).
pub const SOURCE_RATES: RangeInclusive<u32> = 8_000..=768_000;
/// Sample rates a master may be delivered at.
pub const DELIVERY_RATES: RangeInclusive<u32> = 8_000..=384_000;
/// Channels `crest analyze` and `crest verify` measure (up to 7.1).
pub const ANALYSIS_CHANNELS: RangeInclusive<usize> = 1..=8;
/// Channels the chain, the emulations and playback work with (mono and stereo).
pub const MASTERING_CHANNELS: RangeInclusive<usize> = 1..=2;
/// Bytes a decoded sample takes (planar f32).
const BYTES_PER_SAMPLE: u64 = 4;
/// The share of the memory available to Crest that one decoded file may take: the render, the
/// desk's master and the analysis need room beside it.
const MEMORY_SHARE: f64 = 0.5;

/// What a decoded file is for: measuring it, or mastering and playing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// `crest analyze`, `crest verify`: 1–8 channels.
    Analysis,
    /// `crest master`, `preview`, `play`, the desk and its reference slot: 1–2 channels.
    Mastering,
}

impl Purpose {
    pub fn channels(self) -> RangeInclusive<usize> {
        match self {
            Purpose::Analysis => ANALYSIS_CHANNELS,
            Purpose::Mastering => MASTERING_CHANNELS,
        }
    }
}

/// A source or delivery outside what Crest works with.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LimitError {
    #[error(
        "a sample rate of {rate} Hz is outside what Crest works with ({} to {} kHz)",
        SOURCE_RATES.start() / 1000,
        SOURCE_RATES.end() / 1000
    )]
    SourceRate { rate: u32 },
    #[error(
        "a delivery rate of {rate} Hz is outside what Crest delivers ({} to {} kHz)",
        DELIVERY_RATES.start() / 1000,
        DELIVERY_RATES.end() / 1000
    )]
    DeliveryRate { rate: u32 },
    #[error(
        "{channels} channels: Crest masters and plays mono and stereo (1–2 channels); `crest \
         analyze` and `crest verify` measure 1–8"
    )]
    MasteringChannels { channels: usize },
    #[error("{channels} channels: Crest measures 1–8 channels (mono up to 7.1)")]
    AnalysisChannels { channels: usize },
    #[error(
        "the system could not provide the {} of memory this file needs decoded; close other \
         programs or set a lower `--max-memory`",
        gigabytes(*bytes)
    )]
    Unavailable { bytes: u64 },
    #[error(
        "decoded, this file would need {} of memory ({}, {channels} channels, {} kHz); \
         Crest's limit is {} ({})",
        gigabytes(*needed_bytes),
        describe_duration(*frames, *rate),
        *rate as f64 / 1000.0,
        gigabytes(budget.bytes),
        budget.origin
    )]
    Memory {
        needed_bytes: u64,
        frames: u64,
        channels: usize,
        rate: u32,
        budget: MemoryBudget,
    },
}

/// Checks a source's rate and channel count for `purpose`.
pub fn check_source(rate: u32, channels: usize, purpose: Purpose) -> Result<(), LimitError> {
    if !SOURCE_RATES.contains(&rate) {
        return Err(LimitError::SourceRate { rate });
    }
    if !purpose.channels().contains(&channels) {
        return Err(match purpose {
            Purpose::Analysis => LimitError::AnalysisChannels { channels },
            Purpose::Mastering => LimitError::MasteringChannels { channels },
        });
    }
    Ok(())
}

/// Checks a delivery rate.
pub fn check_delivery_rate(rate: u32) -> Result<(), LimitError> {
    if DELIVERY_RATES.contains(&rate) {
        Ok(())
    } else {
        Err(LimitError::DeliveryRate { rate })
    }
}

/// How much memory one decoded file may take, and where that figure comes from.
#[derive(Debug, Clone, PartialEq)]
pub struct MemoryBudget {
    pub bytes: u64,
    /// E.g. "half of the 24.7 GB of memory this machine has; `--max-memory` or the desk's
    /// preferences change it".
    pub origin: String,
}

impl MemoryBudget {
    /// A budget the user set.
    pub fn set(bytes: u64) -> Self {
        Self {
            bytes,
            origin: "as set with `--max-memory` or in the desk's preferences".to_owned(),
        }
    }

    /// Half of the memory available to this process: the machine's physical memory, or less
    /// where the process runs under a limit (RLIMIT_AS, a cgroup's memory limit).
    pub fn from_system() -> Self {
        let limits = [
            (physical_memory(), "of the memory this machine has"),
            (
                address_space_limit(),
                "of the address space this process may use",
            ),
            (
                cgroup_memory_limit(),
                "of the memory limit of this process's control group",
            ),
        ];
        let lowest = limits
            .into_iter()
            .filter_map(|(bytes, what)| bytes.map(|b| (b, what)))
            .min_by_key(|(bytes, _)| *bytes);
        match lowest {
            Some((available, what)) => Self {
                bytes: (available as f64 * MEMORY_SHARE) as u64,
                origin: format!(
                    "half {what}, {}; `--max-memory` or the desk's preferences change it",
                    gigabytes(available)
                ),
            },
            // Nothing to read (not Linux): a fixed, modest figure.
            None => Self {
                bytes: 8 << 30,
                origin: "the default; `--max-memory` or the desk's preferences change it"
                    .to_owned(),
            },
        }
    }

    /// Refuses a decode of `frames` × `channels` at `rate` that would not fit.
    pub fn check(&self, frames: u64, channels: usize, rate: u32) -> Result<(), LimitError> {
        if decoded_bytes(frames, channels) <= self.bytes {
            return Ok(());
        }
        Err(self.refusal(frames, channels, rate))
    }

    /// The refusal of a decode of `frames` × `channels` at `rate`, for one known not to fit.
    pub fn refusal(&self, frames: u64, channels: usize, rate: u32) -> LimitError {
        LimitError::Memory {
            needed_bytes: decoded_bytes(frames, channels),
            frames,
            channels,
            rate,
            budget: self.clone(),
        }
    }

    /// The most frames of `channels` that fit.
    pub fn max_frames(&self, channels: usize) -> u64 {
        self.bytes / (BYTES_PER_SAMPLE * channels.max(1) as u64)
    }
}

/// What a decode may take: the purpose's channels and a memory budget.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodeLimits {
    pub purpose: Purpose,
    pub memory: MemoryBudget,
}

impl DecodeLimits {
    pub fn analysis() -> Self {
        Self {
            purpose: Purpose::Analysis,
            memory: MemoryBudget::from_system(),
        }
    }

    pub fn mastering() -> Self {
        Self {
            purpose: Purpose::Mastering,
            memory: MemoryBudget::from_system(),
        }
    }

    /// The same, with a budget the user set (when they set one).
    pub fn with_memory(mut self, bytes: Option<u64>) -> Self {
        if let Some(bytes) = bytes {
            self.memory = MemoryBudget::set(bytes);
        }
        self
    }
}

/// Bytes `frames` × `channels` take decoded.
pub fn decoded_bytes(frames: u64, channels: usize) -> u64 {
    frames
        .saturating_mul(channels as u64)
        .saturating_mul(BYTES_PER_SAMPLE)
}

/// Parses a memory size as a user writes it: `4G`, `512M`, `1.5GB`, `2GiB`, or bytes.
pub fn parse_memory_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a memory size (e.g. 4G, 512M)"))?;
    let scale = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" | "kib" => 1024.0,
        "m" | "mb" | "mib" => 1024.0 * 1024.0,
        "g" | "gb" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "t" | "tb" | "tib" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return Err(format!("`{text}` is not a memory size (e.g. 4G, 512M)")),
    };
    let bytes = value * scale;
    if !(bytes.is_finite() && bytes >= 1.0) {
        return Err(format!("`{text}` is not a memory size (e.g. 4G, 512M)"));
    }
    Ok(bytes as u64)
}

/// "55.3 GB", "512 MB", "64 kB".
pub fn gigabytes(bytes: u64) -> String {
    let bytes = bytes as f64;
    if bytes >= 1e9 {
        format!("{:.1} GB", bytes / 1e9)
    } else if bytes >= 1e6 {
        format!("{:.0} MB", bytes / 1e6)
    } else {
        format!("{:.0} kB", bytes / 1e3)
    }
}

/// "10 h 0 min", "4 min 12 s", "3.2 s".
fn describe_duration(frames: u64, rate: u32) -> String {
    let seconds = frames as f64 / f64::from(rate.max(1));
    if seconds >= 3600.0 {
        let minutes = (seconds / 60.0).round() as u64;
        format!("{} h {} min", minutes / 60, minutes % 60)
    } else if seconds >= 60.0 {
        let whole = seconds.round() as u64;
        format!("{} min {} s", whole / 60, whole % 60)
    } else {
        format!("{seconds:.1} s")
    }
}

/// MemTotal from /proc/meminfo.
fn physical_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// The soft RLIMIT_AS, from /proc/self/limits ("Max address space  unlimited ...").
fn address_space_limit() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max address space"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// The lowest memory limit of this process's cgroups and their ancestors (v2 `memory.max`,
/// v1 `memory.limit_in_bytes`); none when unlimited.
fn cgroup_memory_limit() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let mut lowest: Option<u64> = None;
    for line in text.lines() {
        let mut fields = line.splitn(3, ':');
        let (Some(id), Some(controllers), Some(path)) =
            (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let (root, file) = if id == "0" && controllers.is_empty() {
            ("/sys/fs/cgroup", "memory.max")
        } else if controllers.split(',').any(|c| c == "memory") {
            ("/sys/fs/cgroup/memory", "memory.limit_in_bytes")
        } else {
            continue;
        };
        let mut folder = Path::new(root).join(path.trim_start_matches('/'));
        loop {
            let limit = std::fs::read_to_string(folder.join(file))
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                // v1 writes "no limit" as a page-aligned i64::MAX.
                .filter(|&v| v < (1 << 62));
            if let Some(limit) = limit {
                lowest = Some(lowest.map_or(limit, |l| l.min(limit)));
            }
            if folder == Path::new(root) || !folder.pop() {
                break;
            }
        }
    }
    lowest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_rule_for_rates_and_channels() {
        assert!(check_source(44_100, 2, Purpose::Mastering).is_ok());
        assert!(check_source(8_000, 8, Purpose::Analysis).is_ok());
        assert!(check_source(768_000, 1, Purpose::Analysis).is_ok());
        for rate in [0, 1, 3, 7_999, 768_001, u32::MAX] {
            let e = check_source(rate, 2, Purpose::Analysis).expect_err("refused");
            assert_eq!(e, LimitError::SourceRate { rate });
            assert!(e.to_string().contains("8 to 768 kHz"), "{e}");
        }
        assert_eq!(
            check_source(48_000, 3, Purpose::Mastering),
            Err(LimitError::MasteringChannels { channels: 3 })
        );
        assert_eq!(
            check_source(48_000, 9, Purpose::Analysis),
            Err(LimitError::AnalysisChannels { channels: 9 })
        );
        assert!(check_delivery_rate(384_000).is_ok());
        assert!(check_delivery_rate(768_000).is_err());
    }

    #[test]
    fn the_memory_refusal_says_what_and_how_much() {
        let budget = MemoryBudget::set(2 << 30);
        let ten_hours = 10 * 3600 * 192_000;
        let e = budget.check(ten_hours, 8, 192_000).expect_err("too big");
        assert_eq!(
            e.to_string(),
            "decoded, this file would need 221.2 GB of memory (10 h 0 min, 8 channels, 192 kHz); \
             Crest's limit is 2.1 GB (as set with `--max-memory` or in the desk's preferences)"
        );
        assert!(budget.check(budget.max_frames(2), 2, 48_000).is_ok());
        assert!(budget.check(budget.max_frames(2) + 1, 2, 48_000).is_err());
    }

    #[test]
    fn the_system_budget_is_half_of_what_is_available() {
        let budget = MemoryBudget::from_system();
        if let Some(physical) = physical_memory() {
            assert!(budget.bytes <= physical / 2 + 1, "{budget:?}");
        }
        assert!(
            budget.bytes > 0 && budget.origin.contains("half"),
            "{budget:?}"
        );
    }

    #[test]
    fn memory_sizes_parse_as_written() {
        assert_eq!(parse_memory_size("4G"), Ok(4 << 30));
        assert_eq!(parse_memory_size("512M"), Ok(512 << 20));
        assert_eq!(parse_memory_size("1.5GB"), Ok(3 << 29));
        assert_eq!(parse_memory_size("1000"), Ok(1000));
        for bad in ["", "G", "-1G", "4X", "0", "nanG"] {
            assert!(parse_memory_size(bad).is_err(), "{bad}");
        }
    }
}
