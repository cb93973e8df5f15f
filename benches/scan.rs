//! In-process scan of every fixture: list the tree and run the cascade, no process start-up.
//! `cargo bench --bench scan`.

use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion};
use repo_scanner::source::{self, Request};
use repo_scanner::view::Limits;

fn fixtures() -> Vec<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .map(|rd| rd.flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect())
        .unwrap_or_default();
    dirs.sort();
    dirs
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("scan_fixture");
    for dir in fixtures() {
        let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        group.bench_function(&name, |b| {
            b.iter(|| {
                let loaded = source::load(&Request::Dir(dir.clone()), Limits::default()).expect("fixture loads");
                repo_scanner::scan(&loaded.view, loaded.source)
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).warm_up_time(std::time::Duration::from_millis(300)).measurement_time(std::time::Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
