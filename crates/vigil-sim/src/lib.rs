//! vigil-sim: a scenario simulator writing realistic enterprise packet captures with labelled
//! espionage storylines and their ground truth, plus the scorer that measures detectors on them.
//!
//! ```no_run
//! use vigil_sim::{Scenario, SimConfig};
//! let out = Scenario::generate(&SimConfig { seed: 7, ..SimConfig::default() }, std::path::Path::new("demo")).unwrap();
//! println!("{} packets in {}", out.packets, out.pcap.display());
//! ```
//!
//! Flow: a [`world::SiteModel`] and its external [`world::Services`] are drawn from the seed;
//! [`stories`] plant the storylines (recording truth drafts and tagging their conversations),
//! [`background`] adds the benign traffic; every conversation is a compact [`spec::Spec`].
//! The generator sorts specs by start time and renders them lazily through a time-ordered heap
//! into the pcap ([`pcap`], [`tcp`], [`wire`], [`apps`]), taking each truth item's first and
//! last packet times as it goes. [`eval::score`] compares findings against the truth.

pub mod apps;
pub mod background;
pub mod eval;
pub mod geo;
pub mod pcap;
pub mod planner;
pub mod spec;
pub mod stories;
pub mod tcp;
pub mod truth;
pub mod wire;
pub mod world;

use chrono::{FixedOffset, NaiveDate, TimeZone};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use truth::{Truth, TruthItem};

pub use eval::{EvalReport, score};
pub use truth::Truth as GroundTruth;

/// Hosts at scale 1.0.
pub const DEFAULT_HOSTS: usize = 200;

/// What to simulate.
#[derive(Clone, Debug, PartialEq)]
pub struct SimConfig {
    /// Everything (site, traffic, storyline variants) follows from the seed.
    pub seed: u64,
    /// Length of the capture in days of event time.
    pub days: u32,
    /// Number of internal hosts (at least 60 are used; storylines need a cast).
    pub hosts: usize,
    /// First day of the capture (local midnight in Asia/Shanghai). Default 2026-03-02, a Monday.
    pub start: NaiveDate,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig { seed: 1, days: 7, hosts: DEFAULT_HOSTS, start: NaiveDate::from_ymd_opt(2026, 3, 2).unwrap_or_default() }
    }
}

impl SimConfig {
    /// `scale` multiplies the default host count (1.0 = 200 hosts).
    pub fn scaled(seed: u64, days: u32, scale: f64) -> Self {
        let hosts = ((DEFAULT_HOSTS as f64) * scale.clamp(0.01, 200.0)).round() as usize;
        SimConfig { seed, days, hosts, ..SimConfig::default() }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("invalid configuration: {0}")]
    Config(String),
}

/// What [`Scenario::generate`] wrote.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub site_file: PathBuf,
    pub assets_file: PathBuf,
    pub truth_file: PathBuf,
    pub pcap: PathBuf,
    pub truth: Truth,
    pub packets: u64,
    /// Size of the pcap file.
    pub bytes: u64,
}

fn site_offset() -> FixedOffset {
    FixedOffset::east_opt(world::UTC_OFFSET_S as i32).unwrap_or(FixedOffset::east_opt(0).unwrap_or_else(|| unreachable!()))
}

impl Scenario {
    /// Writes `site.toml`, `assets.csv`, `truth.json` and `capture.pcap` into `out_dir`
    /// (created if needed) and returns their paths and the truth.
    pub fn generate(cfg: &SimConfig, out_dir: &Path) -> Result<Scenario, SimError> {
        if cfg.days == 0 || cfg.days > 366 {
            return Err(SimError::Config(format!("days must be 1–366, not {}", cfg.days)));
        }
        let werr = |path: &Path| {
            let path = path.to_path_buf();
            move |source| SimError::Write { path, source }
        };
        std::fs::create_dir_all(out_dir).map_err(werr(out_dir))?;
        let pcap_path = out_dir.join("capture.pcap");
        let file = std::fs::File::create(&pcap_path).map_err(werr(&pcap_path))?;
        let mut scenario = Scenario::generate_into(cfg, BufWriter::with_capacity(1 << 20, file), &pcap_path)?;
        let site_file = out_dir.join("site.toml");
        let assets_file = out_dir.join("assets.csv");
        let truth_file = out_dir.join("truth.json");
        let (site_text, assets_text) = scenario.1;
        std::fs::write(&site_file, site_text).map_err(werr(&site_file))?;
        std::fs::write(&assets_file, assets_text).map_err(werr(&assets_file))?;
        let json = serde_json::to_string_pretty(&scenario.0.truth).unwrap_or_default();
        std::fs::write(&truth_file, json + "\n").map_err(werr(&truth_file))?;
        scenario.0.site_file = site_file;
        scenario.0.assets_file = assets_file;
        scenario.0.truth_file = truth_file;
        Ok(scenario.0)
    }

    /// Generates into any writer (the pcap); returns the scenario and the site and inventory
    /// texts.
    pub fn generate_into<W: std::io::Write>(cfg: &SimConfig, out: W, pcap_path: &Path) -> Result<(Scenario, (String, String)), SimError> {
        let werr = |source| SimError::Write { path: pcap_path.to_path_buf(), source };
        let off = site_offset();
        let start_local = cfg.start.and_hms_opt(0, 0, 0).unwrap_or_default();
        let start_dt = off.from_local_datetime(&start_local).single().ok_or_else(|| SimError::Config("bad start".into()))?;
        let start_unix = start_dt.timestamp();
        let start_us = start_unix * 1_000_000;

        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        let mut site = world::SiteModel::build(cfg.hosts.max(60), start_unix, &mut rng);
        let svc = world::Services::new(&mut rng);
        let plan_rng = ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x005e_ed0f_7a11_c0de);
        let (specs, tags, drafts, decommission) = {
            let mut p = planner::Planner::new(&site, &svc, plan_rng, start_us, cfg.days);
            let (drafts, quiet) = stories::plan(&mut p);
            background::plan(&mut p, &quiet);
            (p.specs, p.tags, drafts, p.decommission)
        };
        for (h, date) in decommission {
            if let Some(host) = site.hosts.get_mut(h) {
                host.decommission = Some(date);
            }
        }

        // Render in start order through a heap so packets leave in time order.
        let mut order: Vec<usize> = (0..specs.len()).collect();
        order.sort_by_key(|&i| (specs[i].start_us, i));
        let mut w = pcap::PcapWriter::new(out).map_err(werr)?;
        let mut windows: Vec<Option<(i64, i64)>> = vec![None; drafts.len()];
        let mut heap: BinaryHeap<Reverse<(i64, u64, u32, usize)>> = BinaryHeap::new();
        let mut store: Vec<Option<tcp::Pkt>> = Vec::new();
        let mut free: Vec<usize> = Vec::new();
        let mut seq: u64 = 0;
        let emit = |w: &mut pcap::PcapWriter<W>,
                    heap: &mut BinaryHeap<Reverse<(i64, u64, u32, usize)>>,
                    store: &mut Vec<Option<tcp::Pkt>>,
                    free: &mut Vec<usize>,
                    until: i64,
                    windows: &mut Vec<Option<(i64, i64)>>|
         -> std::io::Result<()> {
            while let Some(Reverse((ts, _, tag, slot))) = heap.peek().copied() {
                if ts >= until {
                    break;
                }
                heap.pop();
                if let Some(p) = store[slot].take() {
                    w.write_packet(p.ts_us, &p.data, p.orig_len)?;
                }
                free.push(slot);
                for (b, win) in windows.iter_mut().enumerate() {
                    if tag & (1 << b) != 0 {
                        *win = Some(win.map_or((ts, ts), |(a, z)| (a.min(ts), z.max(ts))));
                    }
                }
            }
            Ok(())
        };
        for &i in &order {
            let s = &specs[i];
            emit(&mut w, &mut heap, &mut store, &mut free, s.start_us, &mut windows).map_err(werr)?;
            for p in spec::render(s) {
                let slot = match free.pop() {
                    Some(k) => k,
                    None => {
                        store.push(None);
                        store.len() - 1
                    }
                };
                heap.push(Reverse((p.ts_us, seq, tags[i], slot)));
                store[slot] = Some(p);
                seq += 1;
            }
        }
        emit(&mut w, &mut heap, &mut store, &mut free, i64::MAX, &mut windows).map_err(werr)?;
        let packets = w.packets();
        let bytes = w.bytes();
        w.finish().map_err(werr)?;

        let ts = |us: i64| vigil_model::Timestamp::from_micros(us).to_offset(off);
        let items: Vec<TruthItem> = drafts
            .into_iter()
            .zip(windows)
            .filter_map(|(d, win)| {
                let (a, z) = win?;
                Some(TruthItem {
                    storyline: d.storyline.to_string(),
                    kind: d.kind,
                    key_host: d.key_host,
                    dst: d.dst,
                    path: d.path,
                    first_seen: ts(a),
                    last_seen: ts(z),
                    description: d.description,
                })
            })
            .collect();
        let truth = Truth {
            seed: cfg.seed,
            days: cfg.days,
            hosts: site.hosts.len(),
            start: ts(start_us),
            end: ts(start_us + cfg.days as i64 * 86_400_000_000),
            items,
        };
        let texts = (site.site_toml(), site.assets_csv());
        Ok((
            Scenario {
                site_file: PathBuf::new(),
                assets_file: PathBuf::new(),
                truth_file: PathBuf::new(),
                pcap: pcap_path.to_path_buf(),
                truth,
                packets,
                bytes,
            },
            texts,
        ))
    }
}
