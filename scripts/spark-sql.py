#!/usr/bin/env python3
"""Queries of docs/sql.md in Spark (pyspark, local mode) over a wireseam Parquet export.

    python3 scripts/spark-sql.py DIR     # DIR holds one export directory per capture (out/ in docs/sql.md)

Spark has no nanosecond timestamp type: the TIMESTAMP(NANOS) columns are read as integers of
nanoseconds (spark.sql.legacy.parquet.nanosAsLong); the queries use the *_ns columns. Prints
that it skipped (exit 0) where Java or pyspark is missing.
"""
import os
import shutil
import sys

QUERIES = {
    "slowest-handshakes": """
        SELECT file, conn, client, server, round(irtt_ns / 1e6, 3) AS irtt_ms
        FROM conns
        WHERE irtt_ns IS NOT NULL
        ORDER BY irtt_ns DESC, file, conn
        LIMIT 5""",
    "most-retransmissions": """
        SELECT file, conn, client, server, retransmissions, dup_acks,
               packets_c2s + packets_s2c AS packets,
               round(100.0 * retransmissions / (packets_c2s + packets_s2c), 1) AS retrans_pct
        FROM conns
        WHERE retransmissions > 0
        ORDER BY retransmissions DESC, file, conn
        LIMIT 5""",
    "sticky-rate-per-port": """
        SELECT c.proto, c.server_port, count(*) AS messages,
               count(*) FILTER (WHERE m.sticky) AS sticky,
               round(100.0 * count(*) FILTER (WHERE m.sticky) / count(*), 1) AS sticky_pct
        FROM messages m
        JOIN conns c ON m.file = c.file AND m.proto = c.proto AND m.conn = c.conn
        WHERE m.sticky IS NOT NULL
        GROUP BY c.proto, c.server_port
        ORDER BY sticky_pct DESC, c.proto, c.server_port""",
}


def main():
    if len(sys.argv) != 2 or not os.path.isdir(sys.argv[1]):
        print("usage: spark-sql.py DIR (a directory of `wireseam read -F parquet -o DIR/NAME` exports)", file=sys.stderr)
        return 2
    if shutil.which("java") is None:
        print("spark-sql.py: skipped: no java on PATH (Spark needs a JVM, 17 or later)")
        return 0
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        print("spark-sql.py: skipped: pyspark is not installed (python3 -m pip install pyspark)")
        return 0
    root = sys.argv[1]
    spark = (
        SparkSession.builder.master("local[2]")
        .appName("wireseam-sql")
        .config("spark.sql.legacy.parquet.nanosAsLong", "true")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    for table in ["conns", "messages"]:
        spark.read.parquet(os.path.join(root, "*", f"{table}.parquet")).createOrReplaceTempView(table)
    for name, sql in QUERIES.items():
        print(f"-- {name}")
        rows = spark.sql(sql).collect()
        for row in rows:
            print(" | ".join("NULL" if v is None else str(v) for v in row))
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
