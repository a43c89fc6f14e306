/*
 * bench_write.c -- the raw baselines of the write rows (run.sh, pg.sh):
 * the same disk, the same database server, no Portcullis in between.
 *
 *   bench_write sqlite DIR SECONDS
 *	one thread, one connection to DIR/raw.db in WAL mode with
 *	synchronous=FULL (SQLite fsyncs the WAL in every COMMIT),
 *	BEGIN; INSERT one row; COMMIT in a loop;
 *   bench_write pg DSN SECONDS THREADS
 *	THREADS threads, a libpq connection each, BEGIN then
 *	"INSERT ...; COMMIT" in a loop (one row per transaction).
 *
 * Prints "rate p99_ms max_ms": transactions per second, the 99th
 * percentile and the worst transaction's latency.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#define MAXLAT	(1 << 20)

static double	 end_at;
static double	*lat;
static long	 nlat;
static pthread_mutex_t	 mu = PTHREAD_MUTEX_INITIALIZER;
static const char	*dsn;

static double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
record(double d)
{
	pthread_mutex_lock(&mu);
	if (nlat < MAXLAT)
		lat[nlat++] = d;
	pthread_mutex_unlock(&mu);
}

static int
cmp(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void
sq_loop(const char *dir)
{
	sqlite3		*db;
	sqlite3_stmt	*b, *ins, *c;
	char		 path[4096];
	double		 t;
	long		 i = 0;

	snprintf(path, sizeof(path), "%s/raw.db", dir);
	if (sqlite3_open(path, &db) != SQLITE_OK ||
	    sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
	    "CREATE TABLE IF NOT EXISTS raw (id INTEGER PRIMARY KEY, v TEXT)",
	    NULL, NULL, NULL) != SQLITE_OK) {
		fprintf(stderr, "sqlite: %s\n", sqlite3_errmsg(db));
		exit(1);
	}
	sqlite3_prepare_v2(db, "BEGIN IMMEDIATE", -1, &b, NULL);
	sqlite3_prepare_v2(db, "INSERT INTO raw (v) VALUES (?)", -1, &ins,
	    NULL);
	sqlite3_prepare_v2(db, "COMMIT", -1, &c, NULL);
	while ((t = now()) < end_at) {
		sqlite3_step(b);
		sqlite3_reset(b);
		sqlite3_bind_int64(ins, 1, i++);
		sqlite3_step(ins);
		sqlite3_reset(ins);
		if (sqlite3_step(c) != SQLITE_DONE) {
			fprintf(stderr, "sqlite: %s\n", sqlite3_errmsg(db));
			exit(1);
		}
		sqlite3_reset(c);
		record(now() - t);
	}
	sqlite3_close(db);
}

static void *
pg_loop(void *arg)
{
	PGconn		*conn;
	PGresult	*r;
	char		 sql[128];
	double		 t;
	long		 i = 0, k = (long)arg;

	conn = PQconnectdb(dsn);
	if (PQstatus(conn) != CONNECTION_OK) {
		fprintf(stderr, "pg: %s", PQerrorMessage(conn));
		exit(1);
	}
	while ((t = now()) < end_at) {
		PQclear(PQexec(conn, "BEGIN"));
		snprintf(sql, sizeof(sql), "INSERT INTO raw (v) VALUES "
		    "('%ld-%ld'); COMMIT", k, i++);
		r = PQexec(conn, sql);
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			fprintf(stderr, "pg: %s", PQerrorMessage(conn));
			exit(1);
		}
		PQclear(r);
		record(now() - t);
	}
	PQfinish(conn);
	return NULL;
}

int
main(int argc, char *argv[])
{
	pthread_t	*th;
	PGconn		*conn;
	double		 secs, start;
	long		 i, n = 1;

	if (argc < 4 || (strcmp(argv[1], "pg") == 0 && argc < 5)) {
		fprintf(stderr, "usage: bench_write sqlite DIR SECONDS | "
		    "pg DSN SECONDS THREADS\n");
		return 2;
	}
	secs = atof(argv[3]);
	lat = calloc(MAXLAT, sizeof(double));
	start = now();
	end_at = start + secs;
	if (strcmp(argv[1], "sqlite") == 0)
		sq_loop(argv[2]);
	else {
		dsn = argv[2];
		n = atol(argv[4]);
		conn = PQconnectdb(dsn);
		PQclear(PQexec(conn, "CREATE TABLE IF NOT EXISTS raw "
		    "(id BIGSERIAL PRIMARY KEY, v TEXT)"));
		PQfinish(conn);
		start = now();
		end_at = start + secs;
		th = calloc(n, sizeof(*th));
		for (i = 0; i < n; i++)
			pthread_create(&th[i], NULL, pg_loop, (void *)i);
		for (i = 0; i < n; i++)
			pthread_join(th[i], NULL);
	}
	if (nlat == 0)
		return 1;
	qsort(lat, nlat, sizeof(double), cmp);
	printf("%.0f %.2f %.2f\n", nlat / (now() - start),
	    lat[(long)(nlat * 0.99)] * 1000, lat[nlat - 1] * 1000);
	return 0;
}
