/*
 * Conditional PutItem / UpdateItem / DeleteItem for the lease protocol, through a
 * builder that names every attribute with generated placeholders (#_0, :_0) so that
 * reserved words never break an expression, and that keeps its first problem for
 * ddb_execute to report, so the lease code reads as a list of steps.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/awsjson.h"
#include "common/dynamodb_int.h"

/* ---- conditional writes ---- */

enum write_kind { W_PUT, W_UPDATE, W_DELETE };

struct ddb_write {
	enum write_kind kind;
	char table[DDB_TABLE_NAME_MAX + 1];
	char key_desc[100];   /* the hash key, for error messages */
	json_object *key;     /* update and delete */
	json_object *item;    /* put */
	json_object *names;   /* ExpressionAttributeNames */
	json_object *values;  /* ExpressionAttributeValues */
	struct kls_buf set, remove, add, cond;
	int nnames, nvalues, nattrs;
	bool failed;
	char error[256];      /* the first builder problem */
};

static void __attribute__((format(printf, 2, 3)))
wfail(struct ddb_write *w, const char *fmt, ...)
{
	va_list ap;

	if (w->failed)
		return;
	w->failed = true;
	va_start(ap, fmt);
	vsnprintf(w->error, sizeof(w->error), fmt, ap);
	va_end(ap);
}

static struct ddb_write *
write_new(enum write_kind kind, const char *table, const char *key_name, struct ddb_value key)
{
	struct ddb_write *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->kind = kind;
	buf_init(&w->set, 0);
	buf_init(&w->remove, 0);
	buf_init(&w->add, 0);
	buf_init(&w->cond, 0);
	if (!ddbi_valid_table(table))
		wfail(w, "table name \"%.64s\" is not 3..255 characters of [a-zA-Z0-9_.-]",
		    table ? table : "(null)");
	else
		snprintf(w->table, sizeof(w->table), "%s", table);
	w->names = json_object_new_object();
	w->values = json_object_new_object();
	if (kind == W_PUT)
		w->item = json_object_new_object();
	else
		w->key = json_object_new_object();
	if (!w->names || !w->values || (!w->item && !w->key))
		wfail(w, "out of memory");
	if (kind != W_PUT) {
		ddbi_describe_value(key, w->key_desc, sizeof(w->key_desc));
		ddb_key(w, key_name, key);
	}
	return w;
}

struct ddb_write *
ddb_put_new(const char *table)
{
	return write_new(W_PUT, table, NULL, ddb_null());
}

struct ddb_write *
ddb_update_new(const char *table, const char *key_name, struct ddb_value key)
{
	return write_new(W_UPDATE, table, key_name, key);
}

struct ddb_write *
ddb_delete_new(const char *table, const char *key_name, struct ddb_value key)
{
	return write_new(W_DELETE, table, key_name, key);
}

void
ddb_write_free(struct ddb_write *w)
{
	if (!w)
		return;
	json_object_put(w->key);
	json_object_put(w->item);
	json_object_put(w->names);
	json_object_put(w->values);
	buf_free(&w->set);
	buf_free(&w->remove);
	buf_free(&w->add);
	buf_free(&w->cond);
	free(w);
}

const char *
ddb_write_action(const struct ddb_write *w)
{
	return w->kind == W_PUT ? "PutItem" : w->kind == W_UPDATE ? "UpdateItem" : "DeleteItem";
}

static bool
room(struct ddb_write *w)
{
	if (w->failed)
		return false;
	if (++w->nattrs > DDB_WRITE_ATTRS_MAX) {
		wfail(w, "more than %d attributes, names and values", DDB_WRITE_ATTRS_MAX);
		return false;
	}
	return true;
}

/* Adds attr = v to map (a key or an item), refusing a name given twice. */
static void
map_add(struct ddb_write *w, json_object *map, const char *what, const char *name,
    struct ddb_value v)
{
	char why[128];
	json_object *jv;

	if (!room(w))
		return;
	if (!ddbi_valid_attr_name(name)) {
		wfail(w, "%s attribute name missing or longer than %d", what, DDB_ATTR_NAME_MAX);
		return;
	}
	if (json_object_object_get_ex(map, name, NULL)) {
		wfail(w, "%s attribute %.64s given twice", what, name);
		return;
	}
	if (!(jv = ddbi_value_json(v, why, sizeof(why)))) {
		wfail(w, "%s attribute %.64s: %s", what, name, why);
		return;
	}
	if (json_object_object_add(map, name, jv) < 0) {
		json_object_put(jv);
		wfail(w, "out of memory");
	}
}

void
ddb_key(struct ddb_write *w, const char *name, struct ddb_value v)
{
	if (w->kind == W_PUT) {
		wfail(w, "ddb_key on a PutItem: give the key with ddb_set");
		return;
	}
	map_add(w, w->key, "key", name, v);
}

/* The generated placeholder for attribute name, reusing one already made. */
static const char *
name_placeholder(struct ddb_write *w, const char *name, char *out, size_t size)
{
	json_object *s;

	if (!ddbi_valid_attr_name(name)) {
		wfail(w, "attribute name missing or longer than %d", DDB_ATTR_NAME_MAX);
		return NULL;
	}
	json_object_object_foreach(w->names, k, v)
	{
		if (strncmp(k, "#_", 2) == 0 && strcmp(json_object_get_string(v), name) == 0) {
			snprintf(out, size, "%s", k);
			return out;
		}
	}
	if (!room(w))
		return NULL;
	snprintf(out, size, "#_%d", w->nnames++);
	s = json_object_new_string(name);
	if (!s || json_object_object_add(w->names, out, s) < 0) {
		json_object_put(s);
		wfail(w, "out of memory");
		return NULL;
	}
	return out;
}

static const char *
value_placeholder(struct ddb_write *w, const char *for_name, struct ddb_value v, char *out,
    size_t size)
{
	char why[128];
	json_object *jv;

	if (!room(w))
		return NULL;
	if (!(jv = ddbi_value_json(v, why, sizeof(why)))) {
		wfail(w, "value for %.64s: %s", for_name, why);
		return NULL;
	}
	snprintf(out, size, ":_%d", w->nvalues++);
	if (json_object_object_add(w->values, out, jv) < 0) {
		json_object_put(jv);
		wfail(w, "out of memory");
		return NULL;
	}
	return out;
}

/* Appends sep (unless b is empty) and the pieces a, b2, c (NULL = none) to b. */
static void
append(struct ddb_write *w, struct kls_buf *b, const char *sep, const char *a, const char *b2,
    const char *c)
{
	if ((b->len && buf_puts(b, sep) < 0) || buf_puts(b, a) < 0 || (b2 && buf_puts(b, b2) < 0) ||
	    (c && buf_puts(b, c) < 0))
		wfail(w, "out of memory");
}

static void
update_clause(struct ddb_write *w, struct kls_buf *b, const char *call, const char *op,
    const char *name, const struct ddb_value *v)
{
	char np[16], vp[16];

	if (w->kind != W_UPDATE) {
		wfail(w, "%s on a %s", call, ddb_write_action(w));
		return;
	}
	if (!name_placeholder(w, name, np, sizeof(np)))
		return;
	if (v && !value_placeholder(w, name, *v, vp, sizeof(vp)))
		return;
	append(w, b, ", ", np, v ? op : NULL, v ? vp : NULL);
}

void
ddb_set(struct ddb_write *w, const char *name, struct ddb_value v)
{
	if (w->kind == W_PUT)
		map_add(w, w->item, "item", name, v);
	else
		update_clause(w, &w->set, "ddb_set", " = ", name, &v);
}

void
ddb_remove(struct ddb_write *w, const char *name)
{
	update_clause(w, &w->remove, "ddb_remove", NULL, name, NULL);
}

void
ddb_add(struct ddb_write *w, const char *name, struct ddb_value v)
{
	if (v.type != DDB_T_N && v.type != DDB_T_SS) {
		wfail(w, "ddb_add %.64s: only numbers and string sets can be added", name);
		return;
	}
	update_clause(w, &w->add, "ddb_add", " ", name, &v);
}

static void
cond_cmp(struct ddb_write *w, const char *name, const char *op, struct ddb_value v)
{
	char np[16], vp[16], opsp[8];

	snprintf(opsp, sizeof(opsp), " %s ", op);
	if (name_placeholder(w, name, np, sizeof(np)) &&
	    value_placeholder(w, name, v, vp, sizeof(vp)))
		append(w, &w->cond, " AND ", np, opsp, vp);
}

void
ddb_cond_eq(struct ddb_write *w, const char *name, struct ddb_value v)
{
	cond_cmp(w, name, "=", v);
}

void
ddb_cond_ne(struct ddb_write *w, const char *name, struct ddb_value v)
{
	cond_cmp(w, name, "<>", v);
}

void
ddb_cond_exists(struct ddb_write *w, const char *name)
{
	char np[16];
	if (name_placeholder(w, name, np, sizeof(np)))
		append(w, &w->cond, " AND ", "attribute_exists(", np, ")");
}

void
ddb_cond_not_exists(struct ddb_write *w, const char *name)
{
	char np[16];
	if (name_placeholder(w, name, np, sizeof(np)))
		append(w, &w->cond, " AND ", "attribute_not_exists(", np, ")");
}

void
ddb_condition(struct ddb_write *w, const char *expr)
{
	if (!expr || !*expr || strlen(expr) > 4096) {
		wfail(w, "condition expression empty or longer than 4096 characters");
		return;
	}
	append(w, &w->cond, " AND ", "(", expr, ")");
}

/* A user placeholder: prefix then [A-Za-z0-9_]+, not in the builder's reserved space. */
static bool
valid_placeholder(const char *p, char prefix)
{
	size_t n = p ? strlen(p) : 0;

	if (n < 2 || n > 255 || p[0] != prefix || p[1] == '_')
		return false;
	for (size_t i = 1; i < n; i++)
		if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z') ||
			(p[i] >= '0' && p[i] <= '9') || p[i] == '_'))
			return false;
	return true;
}

void
ddb_name(struct ddb_write *w, const char *placeholder, const char *attr_name)
{
	json_object *s;

	if (!room(w))
		return;
	if (!valid_placeholder(placeholder, '#') || !ddbi_valid_attr_name(attr_name)) {
		wfail(w, "name placeholder \"%.32s\" must be #[A-Za-z0-9_]+ not starting with #_, "
			 "for a name of 1..%d characters",
		    placeholder ? placeholder : "(null)", DDB_ATTR_NAME_MAX);
		return;
	}
	if (json_object_object_get_ex(w->names, placeholder, NULL)) {
		wfail(w, "name placeholder %s given twice", placeholder);
		return;
	}
	s = json_object_new_string(attr_name);
	if (!s || json_object_object_add(w->names, placeholder, s) < 0) {
		json_object_put(s);
		wfail(w, "out of memory");
	}
}

void
ddb_value(struct ddb_write *w, const char *placeholder, struct ddb_value v)
{
	char why[128];
	json_object *jv;

	if (!room(w))
		return;
	if (!valid_placeholder(placeholder, ':')) {
		wfail(w, "value placeholder \"%.32s\" must be :[A-Za-z0-9_]+ not starting with :_",
		    placeholder ? placeholder : "(null)");
		return;
	}
	if (json_object_object_get_ex(w->values, placeholder, NULL)) {
		wfail(w, "value placeholder %s given twice", placeholder);
		return;
	}
	if (!(jv = ddbi_value_json(v, why, sizeof(why)))) {
		wfail(w, "value %s: %s", placeholder, why);
		return;
	}
	if (json_object_object_add(w->values, placeholder, jv) < 0) {
		json_object_put(jv);
		wfail(w, "out of memory");
	}
}

static json_object *
write_request(const struct ddb_write *w, struct aws_error *err)
{
	json_object *req;
	struct kls_buf upd;

	if (w->failed) {
		awsj_local_error(err, "InvalidArgument", "%s %s/%s: %s", ddb_write_action(w),
		    w->table, w->key_desc, w->error);
		return NULL;
	}
	if (w->kind == W_PUT && json_object_object_length(w->item) == 0) {
		awsj_local_error(err, "InvalidArgument", "PutItem %s: the item has no attributes",
		    w->table);
		return NULL;
	}
	if (w->kind == W_UPDATE && !w->set.len && !w->remove.len && !w->add.len) {
		awsj_local_error(err, "InvalidArgument", "UpdateItem %s/%s: nothing to update",
		    w->table, w->key_desc);
		return NULL;
	}
	buf_init(&upd, 0);
	req = ddbi_table_request(w->table);
	if (!req)
		goto nomem;
	if (w->kind == W_PUT ? ddbi_add_ref(req, "Item", w->item) < 0 : ddbi_add_ref(req, "Key", w->key) < 0)
		goto nomem;
	if (w->kind == W_UPDATE) {
		if ((w->set.len && buf_printf(&upd, "SET %s", w->set.data) < 0) ||
		    (w->remove.len &&
			buf_printf(&upd, "%sREMOVE %s", upd.len ? " " : "", w->remove.data) < 0) ||
		    (w->add.len && buf_printf(&upd, "%sADD %s", upd.len ? " " : "", w->add.data) < 0) ||
		    awsj_add_str(req, "UpdateExpression", upd.data) < 0)
			goto nomem;
	}
	if (w->cond.len && awsj_add_str(req, "ConditionExpression", w->cond.data) < 0)
		goto nomem;
	/* The service refuses empty maps: send them only when used. */
	if (json_object_object_length(w->names) &&
	    ddbi_add_ref(req, "ExpressionAttributeNames", w->names) < 0)
		goto nomem;
	if (json_object_object_length(w->values) &&
	    ddbi_add_ref(req, "ExpressionAttributeValues", w->values) < 0)
		goto nomem;
	buf_free(&upd);
	return req;
nomem:
	buf_free(&upd);
	json_object_put(req);
	awsj_local_error(err, "NoMemory", "%s %s: out of memory", ddb_write_action(w), w->table);
	return NULL;
}

int
ddb_write_body(const struct ddb_write *w, struct kls_buf *out, struct aws_error *err)
{
	return awsj_body(write_request(w, err), out, err);
}

int
ddb_execute(struct ddb_client *c, const struct ddb_write *w, struct aws_error *err)
{
	json_object *req = write_request(w, err);
	int rc;

	if (!req)
		return DDB_ERROR;
	rc = awsj_send(&c->j, ddb_write_action(w), req, err);
	if (rc == 0)
		return DDB_OK;
	if (w->kind == W_PUT)
		awsj_context(err, "PutItem %s", w->table);
	else
		awsj_context(err, "%s %s/%s", ddb_write_action(w), w->table, w->key_desc);
	return awsj_error_is(err, "ConditionalCheckFailedException") ? DDB_CONDITION_FAILED
								     : DDB_ERROR;
}
