/*
 * CPU time per user record of KPL de-aggregation (`make bench-kpl`): aggregates of 100
 * user records each, with one shared partition key or one UUID-sized key per record,
 * as kpl_deaggregate alone, then with the hash-range check and the NUL-terminated key
 * copies the reader adds, and the MD5 of the same bytes on its own (the floor: every
 * byte must be hashed). Build without sanitizers and with -O2 for numbers worth quoting.
 * Times are process CPU time, best of several rounds.
 */
#include "config.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/kpl.h"
#include "common/kpl_encode.h"
#include "tests/bench/bench.h"

#define NAGG 1000
#define PER_AGG 100

static void
die(const char *what)
{
	fprintf(stderr, "kpl_bench: %s\n", what);
	exit(1);
}

static void
bench(size_t rec_size, int shared_pk, int rounds)
{
	struct kls_buf *agg = calloc(NAGG, sizeof(*agg));
	unsigned char *data = malloc(rec_size);
	char pk[PER_AGG][40];
	struct kpl_entry e[PER_AGG];
	struct kpl k;
	struct kpl_error err;
	struct kpl_hash_range all;
	double best[3] = { 1e9, 1e9, 1e9 };
	unsigned seed = 12345;
	size_t first, bytes = 0;

	if (agg == NULL || data == NULL || kpl_init(&k, NULL) != 0)
		die("out of memory");
	kpl_hash_range_parse(&all, "0", "340282366920938463463374607431768211455");
	for (int a = 0; a < NAGG; a++) {
		for (int i = 0; i < PER_AGG; i++) {
			for (size_t j = 0; j < rec_size; j++) {
				seed = seed * 1103515245 + 12345;
				data[j] = (unsigned char)(seed >> 16);
			}
			snprintf(pk[i], sizeof(pk[i]), "%08x-1f2e-4d3c-8b7a-%012d",
			    shared_pk ? 0u : seed, shared_pk ? 0 : a * PER_AGG + i);
			e[i] = (struct kpl_entry){ data, rec_size, pk[i], strlen(pk[i]), NULL, 0 };
		}
		/* kpl_encode copies the data, so one scratch buffer serves every record. */
		buf_init(&agg[a], 0);
		if (kpl_encode(&agg[a], e, PER_AGG) != 0)
			die("kpl_encode");
		bytes += agg[a].len;
	}
	for (int r = 0; r < rounds; r++) {
		double t0 = cpu_now(), t1, t2, t3;

		for (int a = 0; a < NAGG; a++)
			if (kpl_deaggregate(&k, agg[a].data, agg[a].len, &err) != KPL_AGGREGATED ||
			    k.n_records != PER_AGG)
				die(err.message);
		t1 = cpu_now();
		for (int a = 0; a < NAGG; a++)
			if (kpl_deaggregate(&k, agg[a].data, agg[a].len, &err) != KPL_AGGREGATED ||
			    kpl_check_hash_range(&k, &all, &first) != 1 ||
			    kpl_terminate_keys(&k) != 0)
				die("de-aggregate, range check, keys");
		t2 = cpu_now();
		for (int a = 0; a < NAGG; a++) {
			unsigned char d[EVP_MAX_MD_SIZE];
			unsigned dl;

			if (EVP_Digest(agg[a].data + KPL_MAGIC_LEN, agg[a].len - KPL_MAGIC_LEN -
			    KPL_MD5_LEN, d, &dl, EVP_md5(), NULL) != 1)
				die("MD5");
		}
		t3 = cpu_now();
		double d[3] = { t1 - t0, t2 - t1, t3 - t2 };
		for (int i = 0; i < 3; i++)
			if (d[i] < best[i])
				best[i] = d[i];
	}
	printf("%d x %zu B user records per aggregate, %s, %zu-byte aggregates;"
	       " ns per user record, best of %d:\n", PER_AGG, rec_size,
	    shared_pk ? "one partition key" : "a key per record", bytes / NAGG, rounds);
	printf("  kpl_deaggregate                       %7.1f\n", best[0] * 1e9 / (NAGG * PER_AGG));
	printf("  + kpl_check_hash_range + terminate    %7.1f\n", best[1] * 1e9 / (NAGG * PER_AGG));
	printf("  MD5 of the protobuf bytes alone       %7.1f\n", best[2] * 1e9 / (NAGG * PER_AGG));
	for (int a = 0; a < NAGG; a++)
		buf_free(&agg[a]);
	free(agg);
	free(data);
	kpl_free(&k);
}

int
main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 10;

	if (rounds < 1)
		rounds = 1;
	bench(100, 1, rounds);
	bench(100, 0, rounds);
	bench(1024, 0, rounds);
	return 0;
}
