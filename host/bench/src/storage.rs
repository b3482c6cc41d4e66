//! The storage limit and the floor to beat, in SQLite with the host's durability (WAL,
//! synchronous=FULL): raw commits of the rows the host writes per order, in groups; and the
//! naive outbox -> queue -> delete pipeline with no HTTP and no plugins.

use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::{Connection, params};

fn open(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.busy_timeout(Duration::from_secs(10))?;
    Ok(conn)
}

const ORDER: &str = r#"{"orderId":"o-1","customerId":"c-1","total":250.5,"currency":"EUR","lines":[{"sku":"SKU-1","qty":2}],"version":1,"createdAt":"2026-11-24T10:00:00.000000000Z","updatedAt":"2026-11-24T10:00:00.000000000Z"}"#;

/// Orders a second committed in transactions of `group` orders, for `duration`: each order is
/// an item row and a change record row, as the host writes them.
pub fn group_commits(dir: &Path, group: usize, duration: Duration) -> rusqlite::Result<f64> {
    let path = dir.join(format!("limit-{group}.db"));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let conn = open(&path)?;
    conn.execute_batch(
        "CREATE TABLE items (tbl TEXT, key TEXT, version INTEGER, body TEXT, PRIMARY KEY (tbl, key)) WITHOUT ROWID;
         CREATE TABLE stream (seq INTEGER PRIMARY KEY AUTOINCREMENT, tbl TEXT, event TEXT, item_key TEXT, new_image TEXT, created_ms INTEGER);",
    )?;
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed() < duration {
        let tx = conn.unchecked_transaction()?;
        {
            let mut item = tx.prepare_cached("INSERT INTO items VALUES ('orders', ?1, 1, ?2)")?;
            let mut record = tx.prepare_cached(
                "INSERT INTO stream (tbl, event, item_key, new_image, created_ms) VALUES ('orders', 'INSERT', ?1, ?2, 0)",
            )?;
            for _ in 0..group {
                let key = format!("o-{n}");
                item.execute(params![key, ORDER])?;
                record.execute(params![key, ORDER])?;
                n += 1;
            }
        }
        tx.commit()?;
    }
    Ok(n as f64 / started.elapsed().as_secs_f64())
}

/// The naive pipeline: a producer writes each order with an outbox row, 100 a transaction; a
/// relay moves outbox rows to a queue table; a consumer deletes them from the queue. Returns
/// events a second from the first write to the last delete.
pub fn naive_pipeline(dir: &Path, events: u64) -> rusqlite::Result<f64> {
    const BATCH: i64 = 100;
    let path = dir.join("naive.db");
    let conn = open(&path)?;
    conn.execute_batch(
        "CREATE TABLE orders (id TEXT PRIMARY KEY, body TEXT) WITHOUT ROWID;
         CREATE TABLE outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT);
         CREATE TABLE queue (seq INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT);",
    )?;
    let started = Instant::now();
    let producer = {
        let path = path.clone();
        std::thread::spawn(move || -> rusqlite::Result<()> {
            let conn = open(&path)?;
            let mut n = 0;
            while n < events {
                let tx = conn.unchecked_transaction()?;
                for _ in 0..(BATCH as u64).min(events - n) {
                    tx.prepare_cached("INSERT INTO orders VALUES (?1, ?2)")?
                        .execute(params![format!("o-{n}"), ORDER])?;
                    tx.prepare_cached("INSERT INTO outbox (body) VALUES (?1)")?
                        .execute(params![ORDER])?;
                    n += 1;
                }
                tx.commit()?;
            }
            Ok(())
        })
    };
    let relay = {
        let path = path.clone();
        std::thread::spawn(move || -> rusqlite::Result<()> {
            let conn = open(&path)?;
            let mut moved = 0;
            while moved < events {
                let tx = conn.unchecked_transaction()?;
                let n = tx.execute(
                    "INSERT INTO queue (body) SELECT body FROM outbox ORDER BY seq LIMIT ?1",
                    params![BATCH],
                )?;
                tx.execute(
                    "DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox ORDER BY seq LIMIT ?1)",
                    params![n as i64],
                )?;
                tx.commit()?;
                moved += n as u64;
                if n == 0 {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
            Ok(())
        })
    };
    let consumer = std::thread::spawn(move || -> rusqlite::Result<()> {
        let conn = open(&path)?;
        let mut consumed = 0;
        while consumed < events {
            let tx = conn.unchecked_transaction()?;
            let n = tx.execute(
                "DELETE FROM queue WHERE seq IN (SELECT seq FROM queue ORDER BY seq LIMIT ?1)",
                params![BATCH],
            )?;
            tx.commit()?;
            consumed += n as u64;
            if n == 0 {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        Ok(())
    });
    for thread in [producer, relay, consumer] {
        thread.join().expect("the thread ran")?;
    }
    Ok(events as f64 / started.elapsed().as_secs_f64())
}
