/*
 * CPU time per record of GetRecords parsing: kls's scanner against json-c on the same
 * 10,000-record bodies (100 B and 1 KB records), and kls's base64 decoder against
 * OpenSSL's EVP_DecodeBlock on the same Data strings. Built and run by `make bench-scan`;
 * build without sanitizers and with -O2 for numbers worth quoting. Times are process CPU
 * time, the best of several rounds, so other load on the machine inflates them little.
 */
#include "config.h"

#include <json-c/json.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base64.h"
#include "common/buf.h"
#include "common/getrecords.h"
#include "tests/bench/bench.h"

#define NRECORDS 10000

/* A body shaped like the service's: 56-digit sequence numbers, 36-character keys. */
static void
make_body(struct kls_buf *b, size_t rec_size)
{
	unsigned char *data = malloc(rec_size);
	char *b64 = malloc(base64_encoded_len(rec_size) + 1);
	unsigned seed = 12345;

	buf_puts(b, "{\"Records\":[");
	for (int i = 0; i < NRECORDS; i++) {
		for (size_t j = 0; j < rec_size; j++) {
			seed = seed * 1103515245 + 12345;
			data[j] = (unsigned char)(seed >> 16);
		}
		base64_encode(b64, data, rec_size);
		buf_printf(b,
		    "%s{\"SequenceNumber\":\"4963%052d\",\"ApproximateArrivalTimestamp\":1.7%05d0123E9,"
		    "\"Data\":\"%s\",\"PartitionKey\":\"%08x-1f2e-4d3c-8b7a-%012d\"}",
		    i ? "," : "", i, i % 100000, b64, (unsigned)i * 2654435761u, i);
	}
	buf_puts(b, "],\"NextShardIterator\":\"AAAAAAAAAAH7yQ3lqzM0Yq8wpZ4Kf0bqmUd1L3J2gRjT"
		    "QvA9xkzT3n6b5wUoH1bN2cVf8eR0tY7iL4sPqM6aD9jK2hG5fX1zC8vB3nM0wE4rT7yU6iO9pA\","
		    "\"MillisBehindLatest\":0}");
	free(data);
	free(b64);
}

/* json-c as a consumer would use it: parse, walk every record, decode Data. */
static int
jsonc_consume(const struct kls_buf *body, unsigned char *scratch, int decode)
{
	json_object *root = json_tokener_parse(body->data), *recs, *r, *v;
	size_t n, total = 0;

	if (!root || !json_object_object_get_ex(root, "Records", &recs))
		return -1;
	n = json_object_array_length(recs);
	for (size_t i = 0; i < n; i++) {
		r = json_object_array_get_idx(recs, i);
		if (json_object_object_get_ex(r, "Data", &v) && decode) {
			int k = EVP_DecodeBlock(scratch, (const unsigned char *)json_object_get_string(v),
			    json_object_get_string_len(v));
			total += (size_t)k;
		}
		if (json_object_object_get_ex(r, "PartitionKey", &v))
			total += strlen(json_object_get_string(v));
		if (json_object_object_get_ex(r, "SequenceNumber", &v))
			total += strlen(json_object_get_string(v));
		if (json_object_object_get_ex(r, "ApproximateArrivalTimestamp", &v))
			total += (size_t)(json_object_get_double(v) > 0);
	}
	json_object_put(root);
	return total > 0 ? 0 : -1;
}

/* Start and length of every Data string in the body, for the decoder-only rounds. */
struct span {
	const char *p;
	size_t n;
};

static size_t
find_data(const struct kls_buf *body, struct span *sp)
{
	size_t k = 0;
	const char *p = body->data;

	while ((p = strstr(p, "\"Data\":\"")) && k < NRECORDS) {
		p += 8;
		sp[k].p = p;
		sp[k].n = (size_t)(strchr(p, '"') - p);
		k++;
	}
	return k;
}

static void
bench(size_t rec_size, int rounds)
{
	struct kls_buf body, arena;
	struct getrecords_result res;
	struct getrecords_error err;
	struct span *sp = calloc(NRECORDS, sizeof(*sp));
	unsigned char *scratch = malloc(2 * rec_size + 16);
	double best[5] = { 1e9, 1e9, 1e9, 1e9, 1e9 };
	size_t nsp, dlen, bad;

	buf_init(&body, 0);
	buf_init(&arena, 0);
	getrecords_result_init(&res);
	make_body(&body, rec_size);
	nsp = find_data(&body, sp);
	for (int r = 0; r < rounds; r++) {
		double t0 = cpu_now();
		if (getrecords_parse(body.data, body.len, NULL, &arena, &res, &err) < 0 ||
		    res.n_records != NRECORDS || res.records[7].data_len != rec_size) {
			fprintf(stderr, "scan failed: %s\n", err.message);
			exit(1);
		}
		double t1 = cpu_now();
		if (jsonc_consume(&body, scratch, 1) < 0) {
			fprintf(stderr, "json-c failed\n");
			exit(1);
		}
		double t2 = cpu_now();
		jsonc_consume(&body, scratch, 0);
		double t3 = cpu_now();
		for (size_t i = 0; i < nsp; i++)
			if (base64_decode(scratch, sp[i].p, sp[i].n, &dlen, &bad) < 0)
				exit(1);
		double t4 = cpu_now();
		for (size_t i = 0; i < nsp; i++)
			if (EVP_DecodeBlock(scratch, (const unsigned char *)sp[i].p, (int)sp[i].n) < 0)
				exit(1);
		double t5 = cpu_now();
		double d[5] = { t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4 };
		for (int i = 0; i < 5; i++)
			if (d[i] < best[i])
				best[i] = d[i];
	}
	printf("%zu B records (%zu-byte body), us per record, best of %d:\n", rec_size, body.len,
	    rounds);
	printf("  kls scanner (incl. base64)     %.3f\n", best[0] * 1e6 / NRECORDS);
	printf("  json-c + EVP_DecodeBlock       %.3f\n", best[1] * 1e6 / NRECORDS);
	printf("  json-c parse + walk only       %.3f\n", best[2] * 1e6 / NRECORDS);
	printf("  base64_decode (kls) only       %.3f\n", best[3] * 1e6 / NRECORDS);
	printf("  EVP_DecodeBlock only           %.3f  (no padding or strictness checks)\n",
	    best[4] * 1e6 / NRECORDS);
	getrecords_result_free(&res);
	buf_free(&body);
	buf_free(&arena);
	free(sp);
	free(scratch);
}

int
main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 15;

	if (rounds < 1)
		rounds = 1;
	bench(100, rounds);
	bench(1024, rounds);
	return 0;
}
