//! Parity with RITA v5's beacon math. The vectors below are the inputs and expected outputs
//! published in RITA's unit tests (activecm/rita, `analysis/beacons_test.go`); the
//! implementation under test is Vigil's own (`vigil_detect::util`), written from the math.
//! Every figure must agree within ±0.01 (most agree to the third decimal).

#![allow(clippy::type_complexity)]

use std::collections::BTreeMap;
use vigil_detect::util::*;

const TOL: f64 = 0.01;

fn close(a: f64, b: f64, what: &str) {
    assert!((a - b).abs() <= TOL, "{what}: got {a}, expected {b}");
}

const T0: i64 = 1_517_338_924;

#[test]
fn timestamp_scores_match_rita() {
    let cases: Vec<(&str, Vec<i64>, f64, f64, f64, Vec<i64>, Vec<i64>, i64, i64)> = vec![
        ("simple", (1..=10).collect(), 1.0, 0.0, 0.0, vec![1], vec![9], 1, 9),
        ("perfect", (0..10).map(|i| T0 + 60 * i).collect(), 1.0, 0.0, 0.0, vec![60], vec![9], 60, 9),
        (
            "closely valued",
            vec![1517338924, 1517339022, 1517339121, 1517339220, 1517339320, 1517339420, 1517339520, 1517339621, 1517339722, 1517339824],
            0.995,
            0.0,
            1.0,
            vec![98, 99, 100, 101, 102],
            vec![1, 2, 3, 2, 1],
            100,
            3,
        ),
        (
            "bimodal",
            vec![
                1517338924, 1517339022, 1517339322, 1517339420, 1517339720, 1517339818, 1517340118, 1517340216, 1517340516, 1517340614,
                1517340914,
            ],
            0.746,
            0.0,
            101.0,
            vec![98, 300],
            vec![5, 5],
            98,
            5,
        ),
        (
            "random",
            vec![1517338924, 1517338925, 1517339224, 1517339249, 1517344224, 1517344314, 1517344316, 1517344358, 1517344858, 1517346358],
            0.083,
            0.845,
            89.0,
            vec![1, 2, 25, 42, 90, 299, 500, 1500, 4975],
            vec![1; 9],
            1,
            1,
        ),
    ];
    for (name, ts, score, skew, mad_v, iv, ic, mode, mode_count) in cases {
        let r = timestamp_score(&ts).unwrap_or_else(|e| panic!("{name}: {e}"));
        close(r.score, score, name);
        close(r.skew, skew, name);
        close(r.mad, mad_v, name);
        assert_eq!(r.intervals.values, iv, "{name}");
        assert_eq!(r.intervals.counts, ic, "{name}");
        assert_eq!((r.intervals.mode, r.intervals.mode_count), (mode, mode_count), "{name}");
    }
    assert!(timestamp_score(&[60; 9]).is_err(), "fewer than 3 non-zero intervals");
    assert!(timestamp_score(&[T0, T0 + 1]).is_err(), "fewer than 4 timestamps");
    assert!(timestamp_score(&[]).is_err());
}

#[test]
fn data_size_scores_match_rita() {
    let cases: Vec<(&str, Vec<f64>, f64, f64, f64, i64, i64)> = vec![
        ("simple", (1..=10).map(f64::from).collect(), 0.773, 0.0, 2.5, 1, 1),
        ("identical", vec![60.0; 9], 1.0, 0.0, 0.0, 60, 9),
        ("closely valued", vec![98., 99., 99., 100., 100., 100., 101., 101., 102.], 0.995, 0.0, 1.0, 100, 3),
        ("random", vec![524885., 1., 5000., 98654., 50., 41., 965842., 3.], 0.008, 0.984, 2523.0, 1, 1),
        ("zeros", vec![0.0; 10], 0.5, 0.0, 0.0, 0, 10),
    ];
    for (name, b, score, skew, mad_v, mode, mode_count) in cases {
        let (s, k, m, d) = data_size_score(&b).unwrap_or_else(|e| panic!("{name}: {e}"));
        close(s, score, name);
        close(k, skew, name);
        close(m, mad_v, name);
        assert_eq!((d.mode, d.mode_count), (mode, mode_count), "{name}");
    }
    assert!(data_size_score(&[100.0, 200.0]).is_err());
    assert!(data_size_score(&[]).is_err());
}

#[test]
fn statistical_scores_match_rita() {
    let cases: Vec<(&str, Vec<f64>, f64, f64, f64, f64)> = vec![
        ("simple", (1..=10).map(f64::from).collect(), 0.0, 0.773, 0.0, 2.5),
        ("identical", vec![60.0; 9], 0.0, 1.0, 0.0, 0.0),
        ("closely valued", vec![98., 99., 99., 100., 100., 100., 101., 101., 102.], 0.0, 0.995, 0.0, 1.0),
        ("random", vec![1., 299., 25., 4975., 90., 2., 42., 500., 1500.], 1.0, 0.083, 0.845, 89.0),
        ("random sizes", vec![524885., 1., 5000., 98654., 50., 41., 965842., 3.], 0.0, 0.009, 0.983, 2523.0),
        ("median 0, default 0", vec![0.0; 10], 0.0, 0.5, 0.0, 0.0),
        ("median 0, default 1", vec![0.0; 10], 1.0, 1.0, 0.0, 0.0),
        ("median < 1", (1..=10).map(|x| -f64::from(x)).collect(), 0.0, 0.5, 0.0, 2.5),
        ("q1 == q2", vec![7., 8., 7., 8., 7., 8., 7., 8., 7.], 1.0, 1.0, 0.0, 0.0),
        ("q2 == q3", vec![1., 1., 2., 2., 2., 2.], 1.0, 1.0, 0.0, 0.0),
    ];
    for (name, v, def, score, skew, mad_v) in cases {
        let (s, k, m) = statistical_score(&v, def).unwrap_or_else(|e| panic!("{name}: {e}"));
        close(s, score, name);
        close(k, skew, name);
        close(m, mad_v, name);
    }
    assert!(statistical_score(&[], 0.0).is_err());
}

#[test]
fn bowley_and_mad_match_rita() {
    for (v, skew, score) in [
        (vec![1., 2., 3., 4., 5., 6., 7., 8., 9., 10.], 0.0, 1.0),
        (vec![60.0; 9], 0.0, 1.0),
        (vec![98., 99., 99., 100., 100., 100., 101., 101., 102.], 0.0, 1.0),
        (vec![1., 2., 25., 42., 90., 299., 500., 1500., 4975.], 0.845, 0.155),
        (vec![1., 299., 25., 4975., 90., 2., 42., 500., 1500.], 0.845, 0.155),
        (vec![524885., 1., 5000., 98654., 50., 41., 965842., 3.], 0.983, 0.017),
        (vec![7., 8., 7., 8., 7., 8., 7., 8., 7.], 0.0, 1.0),
        (vec![1., 1., 2., 2., 2., 2.], 0.0, 1.0),
        (vec![7.7, 6.6, 4.4, 1.1, 5.5, 3.3, 2.2], 0.0, 1.0),
    ] {
        let (k, s) = bowley_skew(&v).unwrap();
        close(k, skew, "skew");
        close(s, score, "skew score");
    }
    assert!(bowley_skew(&[]).is_err());
    assert!(bowley_skew(&[1.0, 2.0]).is_err());

    for (v, m, s) in [
        (vec![1., 2., 2., 3., 3., 3., 4., 5., 5.], 1.0, 0.6667),
        (vec![11., 12., 12., 14., 15., 16.], 1.5, 0.8846),
        (vec![1000., 1500., 2000., 2500., 3000., 3500., 4000., 4500., 5000., 5500.], 1250.0, 0.6154),
        (vec![4000., 2500., 2000., 1500., 5500., 3500., 1000., 4500., 5000., 3000.], 1250.0, 0.6154),
    ] {
        let (d, score) = mad(&v, 1.0).unwrap();
        close(d, m, "mad");
        close(score, s, "mad score");
    }
    assert!(mad(&[], 1.0).is_err());
}

#[test]
fn distinct_counts_match_rita() {
    let d = distinct_counts(&[1., 2., 2., 3., 3., 3., 4., 5., 5.]).unwrap();
    assert_eq!((d.values, d.counts, d.mode, d.mode_count), (vec![1, 2, 3, 4, 5], vec![1, 2, 3, 1, 2], 3, 3));
    let d = distinct_counts(&[1517338924., 1517338924., 1517338924., 1609459200., 1609459200., 1612137600., 1612137600.]).unwrap();
    assert_eq!((d.counts, d.mode, d.mode_count), (vec![3, 2, 2], 1517338924, 3));
    let d = distinct_counts(&[3.3, 2.2, 4.4, 1.1, 5.5, 3.3, 2.2]).unwrap();
    assert_eq!((d.values, d.counts, d.mode, d.mode_count), (vec![1, 2, 3, 4, 5], vec![1, 2, 2, 1, 1], 2, 2));
    assert!(distinct_counts(&[]).is_err());
    assert!(distinct_counts(&[1.0]).is_err());
}

#[test]
fn duration_scores_match_rita() {
    let h = 3600.0;
    let d0 = T0 as f64;
    let d1 = d0 + 24.0 * h;
    // (hmin, hmax, bars, run, coverage, consistency, score)
    for (hmin, hmax, bars, run, cov, cons, score) in [
        (d0, d1, 24, 24, 1.0, 1.0, 1.0),
        (d0, d1, 6, 0, 1.0, 0.0, 1.0),
        (d0 + 12.0 * h, d1, 6, 0, 0.5, 0.0, 0.5),
        (d0, d0 + 12.0 * h, 6, 0, 0.5, 0.0, 0.5),
        (d0 + 6.0 * h, d1, 6, 0, 0.75, 0.0, 0.75),
        (d0 + 12.0 * h, d1, 12, 12, 0.5, 1.0, 1.0),
        (d0 + 12.0 * h, d0 + 18.0 * h, 6, 6, 0.25, 0.5, 0.5),
        (d0 + 6.0 * h, d0 + 18.0 * h, 12, 6, 0.5, 0.5, 0.5),
        (d0 + 6.0 * h, d0 + 18.0 * h, 3, 1, 0.0, 0.0, 0.0),
    ] {
        let (c, k, s) = duration_score(d0, d1, hmin, hmax, bars, run, 6, 12).unwrap();
        close(c, cov, "coverage");
        close(k, cons, "consistency");
        close(s, score, "duration score");
    }
    assert!(duration_score(d0, d1, d0, d1, 12, 6, 6, 0).is_err());
    assert!(duration_score(d0, d1, d0, d1, 12, 6, 0, 12).is_err());
    assert!(duration_score(1.0, 0.0, 0.0, 1.0, 6, 12, 6, 12).is_err());
    assert!(duration_score(0.0, 1.0, 1.0, 0.0, 6, 12, 6, 12).is_err());
}

fn freq(pairs: &[(u64, u64)]) -> BTreeMap<u64, u64> {
    pairs.iter().copied().collect()
}

#[test]
fn histogram_scores_match_rita() {
    let p = |min_bars: usize, bins: usize| HistParams { bins, bimodal_min_bars: min_bars, ..HistParams::default() };
    let rep: Vec<f64> = (1..=10).flat_map(|i| std::iter::repeat_n(i as f64, i)).collect();
    let hourly: Vec<f64> = (0..24).map(|i| (T0 + i * 3600) as f64).collect();
    let minutely: Vec<f64> = (0..10).map(|i| (T0 + i * 60) as f64).collect();
    let day = (T0 as f64, (T0 + 86400) as f64);
    #[allow(clippy::type_complexity)]
    let cases: Vec<(&str, f64, f64, Vec<f64>, usize, usize, Vec<u64>, BTreeMap<u64, u64>, usize, usize, f64)> = vec![
        ("simple", 1.0, 11.0, rep, 6, 10, (1..=10).collect(), freq(&(1..=10).map(|i| (i, 1)).collect::<Vec<_>>()), 10, 10, 0.478),
        ("regular", day.0, day.1, hourly, 11, 24, vec![1; 24], freq(&[(1, 24)]), 24, 24, 1.0),
        (
            "closely valued",
            98.0,
            102.0,
            vec![98., 99., 99., 100., 100., 100., 101., 101., 102.],
            6,
            8,
            vec![1, 0, 2, 0, 3, 0, 2, 1],
            freq(&[(1, 2), (2, 2), (3, 1)]),
            5,
            3,
            0.064,
        ),
        (
            "random cv > 1",
            0.0,
            1_000_000.0,
            vec![524885., 1., 5000., 98654., 50., 41., 965842., 3., 12001., 200400., 104001., 199999.],
            6,
            10,
            vec![7, 2, 1, 0, 0, 1, 0, 0, 0, 1],
            freq(&[(1, 3), (2, 1), (7, 1)]),
            5,
            4,
            0.0,
        ),
        (
            "bimodal",
            0.0,
            100.0,
            [1., 2., 3., 4., 15., 21., 22., 23., 24., 35., 41., 42., 43., 44., 55., 61., 62., 63., 64., 75., 81., 82., 83., 84., 95.]
                .to_vec(),
            6,
            10,
            vec![4, 1, 4, 1, 4, 1, 4, 1, 4, 1],
            freq(&[(1, 5), (4, 5)]),
            10,
            10,
            1.0,
        ),
        (
            "gaps and wraparound",
            0.0,
            250.0,
            vec![10., 20., 100., 110., 110., 220.],
            6,
            5,
            vec![2, 0, 3, 0, 1],
            freq(&[(1, 1), (2, 1), (3, 1)]),
            3,
            2,
            0.028,
        ),
        ("single bar", day.0, day.1, minutely.clone(), 11, 24, [vec![10], vec![0; 23]].concat(), freq(&[(10, 1)]), 1, 1, 0.0),
        ("single bar, min bars < 3", day.0, day.1, minutely, 1, 24, [vec![10], vec![0; 23]].concat(), freq(&[(10, 1)]), 1, 1, 0.0),
    ];
    for (name, dmin, dmax, ts, min_bars, bins, hist_e, freq_e, bars_e, run_e, score_e) in cases {
        let params = p(min_bars, bins);
        let (hist, bars, run, score) = histogram_score(dmin, dmax, &ts, &params).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(hist, hist_e, "{name}");
        let (fc, _, _) = frequency_counts(&hist, params.mode_sensitivity).unwrap();
        assert_eq!(fc, freq_e, "{name}");
        assert_eq!((bars, run), (bars_e, run_e), "{name}");
        close(score, score_e, name);
    }
    assert!(histogram_score(0.0, 10.0, &[], &HistParams::default()).is_err());
    assert!(histogram_score(1.0, 0.0, &[1.0, 2.0], &HistParams::default()).is_err());
    assert!(histogram_score(1.0, 1.0, &[1.0; 10], &HistParams::default()).is_err());
}

#[test]
fn histogram_building_blocks_match_rita() {
    // Bin edges.
    assert_eq!(histogram_edges(0.0, 10.0, 2).unwrap(), vec![0.0, 5.0, 10.0]);
    assert_eq!(histogram_edges(0.0, 100.0, 5).unwrap(), vec![0.0, 20.0, 40.0, 60.0, 80.0, 100.0]);
    let e = histogram_edges(0.0, 10.0, 24).unwrap();
    assert_eq!(e.len(), 25);
    close(e[1], 0.4167, "edge");
    close(e[23], 9.5833, "edge");
    let e = histogram_edges(1517336042.0, 1517422440.0, 24).unwrap();
    close(e[1], 1517336042.0 + 3599.9167, "edge");
    close(e[24], 1517422440.0, "edge");
    assert!(histogram_edges(0.0, 100.0, 0).is_err());
    assert!(histogram_edges(10.0, 5.0, 5).is_err());
    assert!(histogram_edges(0.0, 0.0, 5).is_err());

    // Histograms from edges.
    let h = |e: &[f64], v: &[f64]| histogram_counts(e, v).unwrap();
    assert_eq!(h(&[0., 10., 20., 30.], &[1., 5., 11., 15., 21., 25.]), vec![2, 2, 2]);
    assert_eq!(h(&[0., 100., 200.], &[10., 20., 30., 40.]), vec![4, 0]);
    assert_eq!(h(&[0., 100.], &[10., 20., 30., 40., 50.]), vec![5]);
    assert_eq!(h(&[0., 100., 200., 300., 400., 500.], &[450., 10., 30., 205., 299.]), vec![2, 0, 2, 0, 1]);
    assert!(histogram_counts(&[10.0], &[15.0]).is_err());
    assert!(histogram_counts(&[10.0, 20.0], &[]).is_err());

    // Frequency counts with mode sensitivity and wrap-around runs.
    let sensitivity_hist: Vec<u64> = vec![9, 10, 11, 10, 11, 9, 10, 11, 10, 9];
    assert_eq!(frequency_counts(&sensitivity_hist, 0.2).unwrap(), (freq(&[(9, 10)]), 10, 10));
    assert_eq!(frequency_counts(&sensitivity_hist, 0.05).unwrap(), (freq(&[(9, 3), (10, 4), (11, 3)]), 10, 10));
    let bimodal: Vec<u64> = [sensitivity_hist.clone(), vec![3, 2, 3, 2, 3, 2, 3, 2, 3, 2]].concat();
    assert_eq!(frequency_counts(&bimodal, 0.3).unwrap(), (freq(&[(0, 10), (8, 10)]), 20, 20));
    assert_eq!(frequency_counts(&bimodal, 0.05).unwrap(), (freq(&[(9, 3), (10, 4), (11, 3), (2, 5), (3, 5)]), 20, 20));
    assert_eq!(frequency_counts(&[2, 0, 2, 0, 2, 0, 2, 0, 2, 0], 0.05).unwrap(), (freq(&[(2, 5)]), 5, 1));
    assert_eq!(frequency_counts(&[2, 2, 2, 2, 2, 0, 0, 0, 0, 0, 0, 4, 4, 4, 4, 0], 0.05).unwrap(), (freq(&[(2, 5), (4, 4)]), 9, 5));
    assert_eq!(frequency_counts(&[900, 901, 899, 900, 899, 902, 900, 901], 0.05).unwrap(), (freq(&[(874, 8)]), 8, 8));
    assert_eq!(frequency_counts(&[100, 105, 100, 300, 305, 300], 0.1).unwrap(), (freq(&[(93, 3), (279, 3)]), 6, 6));
    assert_eq!(
        frequency_counts(&[100, 105, 100, 300, 305, 300, 500, 505, 500, 700, 705, 700], 0.1).unwrap(),
        (freq(&[(71, 3), (284, 3), (497, 3), (639, 3)]), 12, 12)
    );
    let fine: Vec<u64> = vec![100, 100, 101, 101, 102, 200, 200, 201, 201, 202, 300, 300, 301, 301, 302];
    assert_eq!(
        frequency_counts(&fine, 0.001).unwrap().0,
        freq(&[(100, 2), (101, 2), (102, 1), (200, 2), (201, 2), (202, 1), (300, 2), (301, 2), (302, 1)])
    );
    assert_eq!(frequency_counts(&fine, 0.1).unwrap(), (freq(&[(93, 5), (186, 5), (279, 5)]), 15, 15));
    assert_eq!(
        frequency_counts(&[2002, 2000, 1999, 2005, 1990, 0, 0, 0, 0, 0, 0, 2000, 2001, 2002, 2003, 2004], 0.05).unwrap(),
        (freq(&[(1919, 10)]), 10, 10)
    );
    assert!(frequency_counts(&[], 0.05).is_err());

    // Coefficient of variation.
    close(cv_score(&[1; 10]).unwrap(), 1.0, "uniform");
    close(cv_score(&[950, 970, 990, 1010, 1030, 1050, 1070]).unwrap(), 0.96, "normal");
    close(cv_score(&[1000, 1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008, 1009]).unwrap(), 0.9971406, "cv < 1");
    close(cv_score(&[1, 5, 10, 50, 100, 500, 1000, 5000, 10000]).unwrap(), 0.0, "cv > 1");
    assert!(cv_score(&[]).is_err());
    assert!(cv_score(&[-5, -10, -7, -3, -8]).is_err());
    assert!(cv_score(&[0; 5]).is_err());

    // Bimodal fit.
    for (f, bars, min_bars, score) in [
        (freq(&[(1, 10)]), 10, 10, 1.0),
        (freq(&[(1, 50), (2, 5)]), 60, 10, 0.932),
        (freq(&[(1, 10), (2, 1)]), 11, 10, 1.0),
        (freq(&[(1, 50), (2, 1), (3, 1)]), 56, 10, 0.927),
        (freq(&[(1, 10), (2, 10)]), 20, 10, 1.0),
        (freq(&[(1, 50), (2, 30), (3, 1), (4, 2)]), 83, 10, 0.976),
        (freq(&[(1, 10), (2, 10), (3, 1)]), 21, 10, 1.0),
        (freq(&[(1, 50), (2, 30), (3, 1), (4, 2), (5, 1)]), 84, 10, 0.964),
        (freq(&[(1, 2), (2, 3)]), 5, 11, 0.0),
        (freq(&[(1, 1), (2, 1)]), 2, 2, 0.0),
    ] {
        close(bimodal_fit_score(&f, bars, 1, min_bars).unwrap(), score, "bimodal");
    }
    assert!(bimodal_fit_score(&freq(&[(1, 2), (2, 3)]), 0, 1, 11).is_err());
    assert!(bimodal_fit_score(&freq(&[]), 20, 1, 11).is_err());
}

#[test]
fn weighted_beacon_scores_match_rita() {
    let s = |v: [(f64, f64); 4]| weighted_score(&v);
    for (v, e) in [
        ([(0.8, 0.2), (0.7, 0.2), (0.6, 0.3), (0.5, 0.3)], 0.63),
        ([(1.0, 0.25), (1.0, 0.25), (1.0, 0.25), (1.0, 0.25)], 1.0),
        ([(1.0, 0.1), (1.0, 0.2), (1.0, 0.3), (1.0, 0.4)], 1.0),
        ([(0.1, 0.25), (0.2, 0.25), (0.3, 0.25), (0.4, 0.25)], 0.25),
        ([(0.1, 0.1), (0.2, 0.2), (0.3, 0.3), (0.4, 0.4)], 0.30),
        ([(0.111, 0.173), (0.222, 0.325), (0.333, 0.299), (0.444, 0.203)], 0.281),
        ([(0.1001, 0.249), (0.1002, 0.251), (0.1003, 0.250), (0.1004, 0.250)], 0.10025),
        ([(0.25, 1.0), (1.0, 0.0), (1.0, 0.0), (1.0, 0.0)], 0.25),
    ] {
        close(s(v).unwrap(), e, "beacon score");
    }
    for v in [
        [(-0.1, 0.25), (0.5, 0.25), (0.5, 0.25), (0.5, 0.25)],
        [(1.1, 0.25), (0.5, 0.25), (0.5, 0.25), (0.5, 0.25)],
        [(0.5, -0.1), (0.5, 0.25), (0.5, 0.25), (0.5, 0.25)],
        [(0.5, 1.1), (0.5, 0.25), (0.5, 0.25), (0.5, 0.25)],
        [(0.5, 0.3), (0.5, 0.3), (0.5, 0.3), (0.5, 0.3)],
        [(0.5, 0.3), (0.5, 0.3), (0.5, 0.2), (0.5, 0.1)],
        [(0.5, 0.3), (0.5, 0.3), (0.5, 0.3), (0.5, 0.2)],
    ] {
        assert!(s(v).is_err(), "{v:?} must be refused");
    }
}
