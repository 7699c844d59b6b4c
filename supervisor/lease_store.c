/*
 * Lease table I/O on a pool thread: see lease_store.h.
 */
#include "config.h"

#include "supervisor/lease_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
lease_store_write(struct ddb_client *c, const char *table, const char *key,
    const struct ddb_write *w, struct lease_write_result *res)
{
	memset(res, 0, sizeof(*res));
	res->sent = mono_now();
	res->status = res->write_status = ddb_execute(c, w, &res->err);
	/* The write alone: the metrics compare DynamoDB's answer times, and a re-read
	 * (rare) is a second request. */
	res->write_ns = mono_now().ns - res->sent.ns;
	if (res->status != DDB_CONDITION_FAILED)
		return;
	/* Someone else wrote the item since we last saw it, or our own retried attempt had
	 * landed: only a consistent read of the item now can tell. */
	switch (lease_store_get(c, table, key, &res->current, &res->err)) {
	case DDB_OK: res->reread = res->exists = true; break;
	case DDB_NOT_FOUND:
		res->reread = true;
		res->exists = false;
		break;
	default: res->status = DDB_ERROR; break;
	}
}

enum lease_fail
lease_write_failure(const struct lease_write_result *res, bool landed)
{
	if (landed)
		return LEASE_FAIL_NONE;
	if (res->write_status == DDB_CONDITION_FAILED)
		return LEASE_FAIL_CONDITIONAL;
	return res->err.cls == AWS_ERR_THROTTLED ? LEASE_FAIL_THROTTLED : LEASE_FAIL_OTHER;
}

const char *
lease_fail_name(enum lease_fail f)
{
	switch (f) {
	case LEASE_FAIL_CONDITIONAL: return "conditional";
	case LEASE_FAIL_THROTTLED: return "throttled";
	case LEASE_FAIL_OTHER: return "other";
	default: return NULL;
	}
}

int
lease_store_get(struct ddb_client *c, const char *table, const char *key, struct lease *out,
    struct aws_error *err)
{
	struct ddb_item it = { NULL };
	char why[256];
	int rc;

	rc = ddb_get_item(c, table, LA_KEY, ddb_s(key), &it, err);
	if (rc != DDB_OK)
		return rc;
	if (lease_from_item(&it, out, why, sizeof(why)) != 0) {
		err->cls = AWS_ERR_FATAL;
		err->http_status = 200;
		snprintf(err->type, sizeof(err->type), "BadLease");
		snprintf(err->message, sizeof(err->message), "GetItem %s/%s: %s", table, key, why);
		rc = DDB_ERROR;
	}
	ddb_item_free(&it);
	return rc;
}

int
lease_store_scan(struct ddb_client *c, const char *table, size_t max_items, struct lease **out,
    size_t *n, size_t *skipped, struct aws_error *err)
{
	struct ddb_scan_opts opts = { .consistent = true, .max_items = max_items };
	struct ddb_item_list items = { NULL, 0, 0 };
	struct lease *v = NULL;
	char why[256];
	int rc;

	*out = NULL;
	*n = *skipped = 0;
	rc = ddb_scan_all(c, table, &opts, &items, err);
	if (rc != DDB_OK)
		return rc;
	if (items.n && !(v = calloc(items.n, sizeof(*v)))) {
		ddb_item_list_free(&items);
		err->cls = AWS_ERR_FATAL;
		snprintf(err->type, sizeof(err->type), "NoMemory");
		snprintf(err->message, sizeof(err->message), "Scan %s: out of memory", table);
		return DDB_ERROR;
	}
	err->message[0] = '\0';
	for (size_t i = 0; i < items.n; i++) {
		int got = lease_from_item(&items.v[i], &v[*n], why, sizeof(why));
		if (got == 0) {
			(*n)++;
			continue;
		}
		/* KCL's own rows (worker metrics, leader lock, ...) are expected here. */
		if (got == 1)
			continue;
		if ((*skipped)++ == 0)
			snprintf(err->message, sizeof(err->message), "Scan %s: %s", table, why);
	}
	ddb_item_list_free(&items);
	*out = v;
	return DDB_OK;
}

int
lease_store_ensure_table(struct ddb_client *c, const struct config *cfg, int timeout_ms,
    struct aws_error *err)
{
	struct ddb_table_spec spec = {
		.key_name = LA_KEY,
		.key_type = "S",
		.provisioned = cfg->lease.billing_mode == CONFIG_BILLING_PROVISIONED,
		.read_capacity = cfg->lease.read_capacity,
		.write_capacity = cfg->lease.write_capacity,
	};

	return ddb_ensure_table(c, cfg->kls.table, &spec, timeout_ms, err);
}
