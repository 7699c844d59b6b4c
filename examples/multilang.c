/*
 * multilang: runs a handler written for KCL's MultiLangDaemon (Python, Node.js, Ruby,
 * ...) unchanged. Each shard's reader starts the configured command and speaks KCL's
 * MultiLang protocol with it: one JSON object per line on the child's stdin and
 * stdout.
 *
 *   kls -> child   {"action":"initialize","shardId":..,"sequenceNumber":..,"subSequenceNumber":..}
 *                  {"action":"processRecords","millisBehindLatest":null,"records":[
 *                    {"action":"record","data":<base64>,"partitionKey":..,"sequenceNumber":..,
 *                     "subSequenceNumber":..,"approximateArrivalTimestamp":<ms>}, ...]}
 *                  {"action":"leaseLost"} {"action":"shardEnded"} {"action":"shutdownRequested"}
 *   child -> kls   {"action":"status","responseFor":<the action>}   (ends each exchange)
 *                  {"action":"checkpoint","sequenceNumber":<string or null>,
 *                    "subSequenceNumber":<n or null>}
 *   kls -> child   {"action":"checkpoint","sequenceNumber":..,"subSequenceNumber":..,
 *                    "error":<KCL exception name or null>}
 *
 * A checkpoint request is answered only after kls_checkpoint / kls_checkpoint_at has
 * returned, that is after klsd has persisted it; a null sequence number means "the
 * last record delivered" (SHARD_END inside shardEnded). Errors carry the names of
 * KCL's exceptions, which the MultiLang client libraries raise to the handler.
 * millisBehindLatest is null: ABI 1.0 does not give it to handlers (kls-ctl status
 * shows it). Blank lines and lines that are not JSON objects with an "action" are
 * logged and skipped, as KCL does, so a library printing to stdout breaks nothing.
 *
 * Where kls differs from KCL's daemon, on purpose: the child's stderr goes to kls's
 * log, line by line; a child that dies, stops answering (timeout_ms) or breaks the
 * protocol fails only its own shard's reader (the callback returns an error, klsd
 * restarts the reader and keeps the lease, and delivery resumes after the last
 * checkpoint); the message names what broke it. The child runs in its own process
 * group with PR_SET_PDEATHSIG, so it never outlives its reader.
 *
 * [handler] keys:
 *   command = PROGRAM ARGS...     required; split into words without a shell ('..' and
 *                                 ".." quote, \ escapes); PROGRAM is looked up in PATH
 *                                 when it has no '/'
 *   directory = DIR               working directory of the child (default: the reader's)
 *   env.NAME = VALUE              set NAME in the child's environment (which is otherwise
 *                                 the reader's)
 *   timeout_ms = N                longest the child may stay silent while kls waits for
 *                                 its answer to a message (default 60000; 0 = no limit)
 *   shutdown_timeout_ms = N       after the last message, how long the child has to exit
 *                                 once its stdin is closed before it is killed (default
 *                                 10000)
 *   max_line_bytes = N            longest line the child may write on stdout (default
 *                                 1048576)
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include <kls/handler.h>

#include "examples/multilang.h"
#include "examples/support.h"

extern char **environ;

/* Bytes of one stderr line kept for the log (kls_log cuts at about 1 KiB). */
#define ML_ERRLINE_MAX 900
/* Bytes of a bad message quoted in an error. */
#define ML_QUOTE_MAX 160
/* How long a child that closed its stdout gets to exit before it is killed, so that
 * its own exit status (not our SIGKILL) is what the log reports. */
#define ML_EXIT_GRACE_MS 1000

struct multilang {
	struct kls_ctx *log_ctx; /* valid from init until destroy returns */
	const char *shard_id;
	struct ml_child child;
	struct ml_lines out; /* the child's stdout */
	/* The child's stderr: the line being collected; skip_err after a cut line. */
	char errline[ML_ERRLINE_MAX + 1];
	size_t errlen;
	bool skip_err;
	/* The bytes being written to the child's stdin (a message, then replies). */
	char *msg;
	size_t msg_len, msg_off, msg_cap;
	bool msg_oom;
	long long timeout_ms, shutdown_ms;
	bool broken; /* the child was killed after a failure: later callbacks fail */
};

#define ML_LOG(m, level, ...) kls_log((m)->log_ctx, (level), __VA_ARGS__)

/* ---- the outgoing buffer ---- */

static void
put(struct multilang *m, const char *s, size_t n)
{
	if (m->msg_oom)
		return;
	if (m->msg_off == m->msg_len)
		m->msg_off = m->msg_len = 0;
	if (m->msg_len + n + 1 > m->msg_cap) {
		size_t cap = m->msg_cap ? m->msg_cap : 4096;
		char *nb;
		while (cap < m->msg_len + n + 1) {
			if (cap > SIZE_MAX / 2) {
				m->msg_oom = true;
				return;
			}
			cap *= 2;
		}
		if (!(nb = realloc(m->msg, cap))) {
			m->msg_oom = true;
			return;
		}
		m->msg = nb;
		m->msg_cap = cap;
	}
	memcpy(m->msg + m->msg_len, s, n);
	m->msg_len += n;
}

static void
puts_(struct multilang *m, const char *s)
{
	put(m, s, strlen(s));
}

static void
put_u64(struct multilang *m, uint64_t v)
{
	char b[24];
	put(m, b, (size_t)snprintf(b, sizeof(b), "%" PRIu64, v));
}

static void
put_i64(struct multilang *m, int64_t v)
{
	char b[24];
	put(m, b, (size_t)snprintf(b, sizeof(b), "%" PRId64, v));
}

/* A JSON string: quotes, backslashes and control characters escaped; other bytes as
 * they are (partition keys and shard ids are Unicode strings in UTF-8). */
static void
put_str(struct multilang *m, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const char *run = s;

	put(m, "\"", 1);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		put(m, run, (size_t)(s - run));
		if (c == '"' || c == '\\') {
			esc[1] = (char)c;
			put(m, esc, 2);
		} else {
			put(m, esc, 6);
		}
		run = s + 1;
	}
	put(m, run, (size_t)(s - run));
	put(m, "\"", 1);
}

/* put_str, or null for NULL (checkpoint answers may lack a sequence number or error). */
static void
put_str_or_null(struct multilang *m, const char *s)
{
	if (s != NULL)
		put_str(m, s);
	else
		puts_(m, "null");
}

static void
put_base64(struct multilang *m, const unsigned char *d, size_t n)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char q[4];

	put(m, "\"", 1);
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)d[i] << 16;
		size_t k = n - i;
		if (k > 1)
			v |= (uint32_t)d[i + 1] << 8;
		if (k > 2)
			v |= d[i + 2];
		q[0] = tab[v >> 18];
		q[1] = tab[(v >> 12) & 63];
		q[2] = k > 1 ? tab[(v >> 6) & 63] : '=';
		q[3] = k > 2 ? tab[v & 63] : '=';
		put(m, q, 4);
	}
	put(m, "\"", 1);
}

/* After an exchange: a buffer grown for a large batch is not kept for the reader's life. */
static void
msg_trim(struct multilang *m)
{
	if (m->msg_off == m->msg_len && m->msg_cap > 1024 * 1024) {
		free(m->msg);
		m->msg = NULL;
		m->msg_len = m->msg_off = m->msg_cap = 0;
	}
}

/* ---- the child's output ---- */

static void
stderr_line(struct multilang *m, bool cut)
{
	m->errline[m->errlen] = '\0';
	ML_LOG(m, KLS_LOG_WARN, "multilang %s: stderr: %s%s", m->shard_id, m->errline,
	    cut ? " [cut]" : "");
	m->errlen = 0;
}

/* Reads what stderr has now and logs each complete line. */
static void
drain_stderr(struct multilang *m)
{
	char buf[4096];
	ssize_t n;

	while (m->child.err_fd >= 0) {
		n = read(m->child.err_fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0 || errno != EAGAIN) {
				/* EOF or a broken pipe: a last unterminated line counts. */
				if (m->errlen > 0 && !m->skip_err)
					stderr_line(m, false);
				close(m->child.err_fd);
				m->child.err_fd = -1;
			}
			return;
		}
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] == '\n') {
				if (!m->skip_err)
					stderr_line(m, false);
				m->skip_err = false;
				m->errlen = 0;
			} else if (m->skip_err) {
				continue;
			} else if (m->errlen == ML_ERRLINE_MAX) {
				stderr_line(m, true);
				m->skip_err = true;
			} else {
				m->errline[m->errlen++] =
				    buf[i] >= 0x20 || buf[i] < 0 || buf[i] == '\t' ? buf[i] : '?';
			}
		}
	}
}

/* The start of a line the child sent, printable, for messages. */
static void
quote_line(const char *line, size_t len, char *out, size_t size)
{
	size_t n = len < ML_QUOTE_MAX ? len : ML_QUOTE_MAX;
	size_t o = 0;

	for (size_t i = 0; i < n && o + 1 < size; i++)
		out[o++] = (unsigned char)line[i] < 0x20 ? '?' : line[i];
	out[o] = '\0';
	if (n < len && o + 4 < size)
		strcpy(out + o, "\xe2\x80\xa6"); /* U+2026 */
}

/*
 * Ends a child that failed: kills its process group, logs what it still had on
 * stderr, then logs why, with the exit status when describe is set. Later callbacks
 * fail without talking to it. Returns KLS_HANDLER_ERROR.
 */
static int ml_fail(struct multilang *m, bool describe, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
ml_fail(struct multilang *m, bool describe, const char *fmt, ...)
{
	char why[1024], status[96] = "";
	va_list ap;

	if (describe) {
		/* It closed its stdout: let it finish exiting on its own first. */
		long long until = ml_now_ms() + ML_EXIT_GRACE_MS;
		while (!ml_child_try_reap(&m->child) && ml_now_ms() < until)
			nanosleep(&(struct timespec){ 0, 10 * 1000000 }, NULL);
	}
	ml_child_kill(&m->child);
	drain_stderr(m);
	m->broken = true;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (describe) {
		status[0] = ' ';
		status[1] = '(';
		ml_child_describe(&m->child, status + 2, sizeof(status) - 3);
		strcat(status, ")");
	}
	ML_LOG(m, KLS_LOG_ERROR, "multilang %s: %s%s", m->shard_id, why, status);
	return KLS_HANDLER_ERROR;
}

static const char *
kcl_error_name(int rc)
{
	switch (rc) {
	case KLS_ERR_LEASE_LOST: return "ShutdownException";
	case KLS_ERR_BEYOND_DELIVERED:
	case KLS_ERR_INVALID: return "IllegalArgumentException";
	case KLS_ERR_WRITE_FAILED:
	case KLS_ERR_TIMEOUT: return "KinesisClientLibDependencyException";
	default: return "InvalidStateException";
	}
}

/* Outcome of one line from the child. */
enum line_result {
	LINE_SKIPPED,    /* not a protocol message */
	LINE_CHECKPOINT, /* a checkpoint request, answered */
	LINE_STATUS,     /* the status that ends the exchange */
	LINE_FAILED,     /* protocol error: the child is killed */
};

/* A checkpoint request: checkpoints through ckpt (NULL where KCL has no checkpointer)
 * and queues the answer. */
static enum line_result
handle_checkpoint(struct multilang *m, json_object *o, const char *action, struct kls_ctx *ckpt,
    const char *quoted)
{
	json_object *seqv = NULL, *subv = NULL;
	const char *seq = NULL, *error = NULL;
	int64_t sub = 0;
	bool have_sub = false;

	json_object_object_get_ex(o, "sequenceNumber", &seqv);
	json_object_object_get_ex(o, "subSequenceNumber", &subv);
	if (seqv != NULL && !json_object_is_type(seqv, json_type_string)) {
		ml_fail(m, false, "child sent %s: sequenceNumber is not a string or null", quoted);
		return LINE_FAILED;
	}
	if (subv != NULL &&
	    (!json_object_is_type(subv, json_type_int) || json_object_get_int64(subv) < 0)) {
		ml_fail(m, false,
		    "child sent %s: subSequenceNumber is not a non-negative integer or null",
		    quoted);
		return LINE_FAILED;
	}
	if (seqv != NULL)
		seq = json_object_get_string(seqv);
	if (subv != NULL) {
		sub = json_object_get_int64(subv);
		have_sub = true;
	}
	if (ckpt == NULL) {
		error = "InvalidStateException";
		ML_LOG(m, KLS_LOG_WARN,
		    "multilang %s: child asked for a checkpoint during %s, where none is allowed",
		    m->shard_id, action);
	} else {
		/* KCL: a sequence number without sub-sequence number checkpoints at 0. */
		int rc = seq != NULL ? kls_checkpoint_at(ckpt, seq, (uint64_t)sub)
		                     : kls_checkpoint(ckpt);
		if (rc != KLS_OK) {
			error = kcl_error_name(rc);
			ML_LOG(m, KLS_LOG_WARN,
			    "multilang %s: checkpoint at %s/%" PRId64 " for the child: %s",
			    m->shard_id, seq ? seq : "(last delivered)", sub, kls_strerror(rc));
		}
	}
	puts_(m, "{\"action\":\"checkpoint\",\"sequenceNumber\":");
	put_str_or_null(m, seq);
	puts_(m, ",\"subSequenceNumber\":");
	if (have_sub)
		put_i64(m, sub);
	else
		puts_(m, "null");
	puts_(m, ",\"error\":");
	put_str_or_null(m, error);
	puts_(m, "}\n");
	return LINE_CHECKPOINT;
}

static enum line_result
handle_line(struct multilang *m, const char *action, struct kls_ctx *ckpt, const char *line,
    size_t len)
{
	char quoted[ML_QUOTE_MAX + 8];
	json_tokener *tok;
	json_object *o, *av = NULL, *rv = NULL;
	enum line_result r;
	const char *a;
	size_t end;

	while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	if (len == 0 || strspn(line, " \t") == len)
		return LINE_SKIPPED; /* KCL's clients wrap each message in newlines */
	if (!(tok = json_tokener_new_ex(32))) {
		ml_fail(m, false, "out of memory");
		return LINE_FAILED;
	}
	o = json_tokener_parse_ex(tok, line, (int)len);
	end = json_tokener_get_parse_end(tok);
	if (o != NULL && json_tokener_get_error(tok) == json_tokener_success && end < len)
		end += strspn(line + end, " \t");
	quote_line(line, len, quoted, sizeof(quoted));
	if (o == NULL || json_tokener_get_error(tok) != json_tokener_success || end != len ||
	    !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, "action", &av)) {
		ML_LOG(m, KLS_LOG_INFO, "multilang %s: stdout (not a protocol message): %s",
		    m->shard_id, quoted);
		r = LINE_SKIPPED;
		goto out;
	}
	if (!json_object_is_type(av, json_type_string)) {
		ml_fail(m, false, "child sent %s: action is not a string", quoted);
		r = LINE_FAILED;
		goto out;
	}
	a = json_object_get_string(av);
	if (strcmp(a, "status") == 0) {
		const char *rf = json_object_object_get_ex(o, "responseFor", &rv) &&
		                         json_object_is_type(rv, json_type_string)
		                     ? json_object_get_string(rv)
		                     : NULL;
		if (rf == NULL) {
			ml_fail(m, false, "child sent %s: status without responseFor", quoted);
			r = LINE_FAILED;
		} else if (strcmp(rf, action) != 0) {
			ml_fail(m, false,
			    "child sent %s: status for %s while kls waited for the status of %s",
			    quoted, rf, action);
			r = LINE_FAILED;
		} else {
			r = LINE_STATUS;
		}
	} else if (strcmp(a, "checkpoint") == 0) {
		r = handle_checkpoint(m, o, action, ckpt, quoted);
	} else {
		ml_fail(m, false, "child sent %s: unknown action", quoted);
		r = LINE_FAILED;
	}
out:
	json_object_put(o);
	json_tokener_free(tok);
	return r;
}

/*
 * Sends the message in m->msg and serves the child until it sends the status for
 * action: checkpoint requests in between go through ckpt. Reads stdout, stderr and
 * writes stdin in one poll loop, so a child that writes while kls writes a large
 * message never deadlocks with it. KLS_HANDLER_OK, or KLS_HANDLER_ERROR with the
 * child killed and the reason logged.
 */
static int
exchange(struct multilang *m, const char *action, struct kls_ctx *ckpt)
{
	long long deadline = m->timeout_ms > 0 ? ml_now_ms() + m->timeout_ms : 0;

	if (m->broken) {
		ML_LOG(m, KLS_LOG_ERROR,
		    "multilang %s: %s: the child was stopped after an earlier failure", m->shard_id,
		    action);
		return KLS_HANDLER_ERROR;
	}
	for (;;) {
		struct pollfd p[3];
		int np = 0, in_i = -1, out_i, err_i = -1, timeout = -1, rc;
		enum ml_fill fill;
		char *line;
		size_t len;

		while ((line = ml_lines_next(&m->out, &len)) != NULL) {
			enum line_result r = handle_line(m, action, ckpt, line, len);
			if (r == LINE_FAILED)
				return KLS_HANDLER_ERROR;
			if (m->msg_oom)
				return ml_fail(m, false, "%s: out of memory", action);
			if (r == LINE_STATUS) {
				/* It cannot have read what kls has not written yet. */
				if (m->msg_off < m->msg_len)
					return ml_fail(m, false,
					    "child sent the status of %s before reading "
					    "all of it",
					    action);
				msg_trim(m);
				return KLS_HANDLER_OK;
			}
			/* The time kls spent persisting a checkpoint is not the child's. */
			if (r == LINE_CHECKPOINT && m->timeout_ms > 0)
				deadline = ml_now_ms() + m->timeout_ms;
		}
		if (m->out.eof)
			return ml_fail(m, true,
			    "child closed its stdout while kls waited for the status of %s",
			    action);
		if (m->msg_off < m->msg_len && m->child.in_fd >= 0) {
			in_i = np;
			p[np++] = (struct pollfd){ .fd = m->child.in_fd, .events = POLLOUT };
		}
		out_i = np;
		p[np++] = (struct pollfd){ .fd = m->child.out_fd, .events = POLLIN };
		if (m->child.err_fd >= 0) {
			err_i = np;
			p[np++] = (struct pollfd){ .fd = m->child.err_fd, .events = POLLIN };
		}
		if (deadline > 0) {
			long long left = deadline - ml_now_ms();
			if (left <= 0)
				return ml_fail(m, false,
				    "child did not answer %s within %lld ms: killed it", action,
				    m->timeout_ms);
			timeout = left > 60000 ? 60000 : (int)left;
		}
		rc = poll(p, (nfds_t)np, timeout);
		if (rc < 0) {
			if (errno == EINTR)
				continue;
			return ml_fail(m, false, "poll: %s", strerror(errno));
		}
		if (err_i >= 0 && p[err_i].revents)
			drain_stderr(m);
		if (in_i >= 0 && p[in_i].revents) {
			if (ml_write_some(m->child.in_fd, m->msg, m->msg_len, &m->msg_off) == -1)
				return ml_fail(m, true, "writing %s to the child: %s", action,
				    strerror(errno));
		}
		if (p[out_i].revents) {
			fill = ml_lines_fill(&m->out, m->child.out_fd);
			if (fill == ML_FILL_TOO_LONG)
				return ml_fail(m, false,
				    "child sent a line longer than %zu bytes (max_line_bytes) "
				    "while kls waited for the status of %s",
				    m->out.max, action);
			if (fill == ML_FILL_ERROR)
				return ml_fail(m, false, "reading the child's stdout: %s",
				    strerror(errno));
		}
	}
}

/* ---- configuration ---- */

static bool
env_name_ok(const char *s)
{
	if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
		return false;
	for (; *s != '\0'; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		        (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return true;
}

/*
 * The child's environment: the reader's, with every env.NAME of the configuration
 * set. One allocation (pointers, then the "NAME=value" strings) freed with free().
 */
static char **
build_env(const struct kls_handler_config *config, char *why, size_t whylen)
{
	size_t nenv = 0, nset = 0, bytes = 0, k = 0;
	char **envp, *text;

	for (char **e = environ; e && *e; e++)
		nenv++;
	for (size_t i = 0; i < config->count; i++) {
		const char *key = config->pairs[i].key;
		if (strncmp(key, "env.", 4) != 0)
			continue;
		if (!env_name_ok(key + 4)) {
			snprintf(why, whylen, "%s: \"%s\" is not an environment variable name", key,
			    key + 4);
			return NULL;
		}
		nset++;
		bytes += strlen(key + 4) + strlen(config->pairs[i].value) + 2;
	}
	envp = malloc((nenv + nset + 1) * sizeof(char *) + bytes);
	if (envp == NULL) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	text = (char *)(envp + nenv + nset + 1);
	for (char **e = environ; e && *e; e++) {
		bool replaced = false;
		for (size_t i = 0; i < config->count && !replaced; i++) {
			const char *key = config->pairs[i].key;
			size_t nl = strlen(key + 4);
			replaced = strncmp(key, "env.", 4) == 0 && strncmp(*e, key + 4, nl) == 0 &&
			           (*e)[nl] == '=';
		}
		if (!replaced)
			envp[k++] = *e;
	}
	for (size_t i = 0; i < config->count; i++) {
		const char *key = config->pairs[i].key;
		if (strncmp(key, "env.", 4) != 0)
			continue;
		envp[k++] = text;
		text += sprintf(text, "%s=%s", key + 4, config->pairs[i].value) + 1;
	}
	envp[k] = NULL;
	return envp;
}

/* Every key must be ours: a misspelt key would otherwise be silently ignored. */
static int
check_keys(const struct kls_handler_config *config, char *why, size_t whylen)
{
	static const char *const known[] = { "command", "directory", "timeout_ms",
		"shutdown_timeout_ms", "max_line_bytes" };

	for (size_t i = 0; i < config->count; i++) {
		const char *key = config->pairs[i].key;
		bool ok = strncmp(key, "env.", 4) == 0;
		for (size_t j = 0; j < sizeof(known) / sizeof(known[0]) && !ok; j++)
			ok = strcmp(key, known[j]) == 0;
		if (!ok) {
			snprintf(why, whylen, "unknown key %s", key);
			return -1;
		}
	}
	return 0;
}

/* ---- callbacks ---- */

static void
ml_free(struct multilang *m)
{
	ml_child_close(&m->child);
	ml_lines_free(&m->out);
	free(m->msg);
	free(m);
}

/* Parses the configuration and starts the child. KLS_HANDLER_OK, or the error to
 * return from init (the reason logged). */
static int
ml_start(struct multilang *m, const struct kls_handler_config *config)
{
	const char *command = kls_config_get(config, "command");
	const char *dir = kls_config_get(config, "directory");
	const char *path;
	uint64_t timeout, shutdown, max_line;
	struct ml_spawn *sp;
	char why[PATH_MAX + 256];
	int rc = KLS_HANDLER_ERROR_PERMANENT;

	if (check_keys(config, why, sizeof(why)) == -1 ||
	    ex_config_u64(config, "timeout_ms", 60000, INT32_MAX, &timeout, why, sizeof(why)) ==
	        -1 ||
	    ex_config_u64(config, "shutdown_timeout_ms", 10000, INT32_MAX, &shutdown, why,
	        sizeof(why)) == -1 ||
	    ex_config_u64(config, "max_line_bytes", 1024 * 1024, 64 * 1024 * 1024, &max_line, why,
	        sizeof(why)) == -1) {
		ML_LOG(m, KLS_LOG_ERROR, "multilang: [handler] %s", why);
		return KLS_HANDLER_ERROR_PERMANENT;
	}
	if (command == NULL) {
		ML_LOG(m, KLS_LOG_ERROR, "multilang: [handler] command is required");
		return KLS_HANDLER_ERROR_PERMANENT;
	}
	if (max_line < 1024) {
		ML_LOG(m, KLS_LOG_ERROR,
		    "multilang: [handler] max_line_bytes = %" PRIu64 ": at least 1024", max_line);
		return KLS_HANDLER_ERROR_PERMANENT;
	}
	m->timeout_ms = (long long)timeout;
	m->shutdown_ms = (long long)shutdown;
	if (!(sp = calloc(1, sizeof(*sp))) || ml_lines_init(&m->out, (size_t)max_line) == -1) {
		free(sp);
		ML_LOG(m, KLS_LOG_ERROR, "multilang: out of memory");
		return KLS_HANDLER_ERROR;
	}
	if (ml_split_command(sp, command, why, sizeof(why)) == -1) {
		ML_LOG(m, KLS_LOG_ERROR, "multilang: [handler] command = %s: %s", command, why);
		goto out;
	}
	if (dir != NULL &&
	    (size_t)snprintf(sp->dir, sizeof(sp->dir), "%s", dir) >= sizeof(sp->dir)) {
		ML_LOG(m, KLS_LOG_ERROR, "multilang: [handler] directory is too long");
		goto out;
	}
	/* The child's PATH: env.PATH when the configuration sets one. */
	path = kls_config_get(config, "env.PATH");
	if (ml_resolve_program(sp, path ? path : getenv("PATH")) == -1) {
		ML_LOG(m, KLS_LOG_ERROR, "multilang: [handler] command = %s: %s: %s", command,
		    sp->argv[0],
		    errno == ENOENT && !strchr(sp->argv[0], '/') ? "not found in PATH"
		                                                 : strerror(errno));
		goto out;
	}
	if (!(sp->envp = build_env(config, why, sizeof(why)))) {
		ML_LOG(m, KLS_LOG_ERROR, "multilang: [handler] %s", why);
		rc = strcmp(why, "out of memory") == 0 ? KLS_HANDLER_ERROR
		                                       : KLS_HANDLER_ERROR_PERMANENT;
		goto out;
	}
	if (ml_child_start(&m->child, sp, why, sizeof(why)) == -1) {
		ML_LOG(m, KLS_LOG_ERROR, "multilang %s: start %s: %s", m->shard_id, sp->path, why);
		/* A program that cannot run is a configuration error; fork failing is not. */
		if (errno != ENOENT && errno != EACCES && errno != ENOEXEC && errno != ENOTDIR)
			rc = KLS_HANDLER_ERROR;
		goto out;
	}
	ML_LOG(m, KLS_LOG_INFO, "multilang %s: started %s (pid %ld)", m->shard_id, sp->path,
	    (long)m->child.pid);
	rc = KLS_HANDLER_OK;
out:
	free(sp->envp);
	free(sp);
	return rc;
}

/* ,"sequenceNumber":..,"subSequenceNumber":.. of a record or of the checkpoint a
 * shard starts from. */
static void
put_position(struct multilang *m, const char *seq, uint64_t sub)
{
	puts_(m, ",\"sequenceNumber\":");
	put_str(m, seq);
	puts_(m, ",\"subSequenceNumber\":");
	put_u64(m, sub);
}

static int
ml_init(const struct kls_shard_info *shard, const struct kls_handler_config *config,
    struct kls_ctx *ctx, void **state)
{
	struct multilang *m = calloc(1, sizeof(*m));
	int rc;

	if (m == NULL) {
		kls_log(ctx, KLS_LOG_ERROR, "multilang: out of memory");
		return KLS_HANDLER_ERROR;
	}
	m->log_ctx = ctx;
	m->shard_id = shard->shard_id;
	m->child.pid = -1;
	m->child.in_fd = m->child.out_fd = m->child.err_fd = -1;
	rc = ml_start(m, config);
	if (rc == KLS_HANDLER_OK) {
		puts_(m, "{\"action\":\"initialize\",\"shardId\":");
		put_str(m, shard->shard_id);
		put_position(m, shard->checkpoint, shard->checkpoint_sub_sequence);
		puts_(m, "}\n");
		rc = exchange(m, "initialize", NULL);
	}
	if (rc != KLS_HANDLER_OK) {
		ml_child_kill(&m->child);
		drain_stderr(m);
		ml_free(m);
		return rc;
	}
	*state = m;
	return KLS_HANDLER_OK;
}

static int
ml_process(void *state, const struct kls_record *records, size_t n, struct kls_ctx *ctx)
{
	struct multilang *m = state;

	puts_(m, "{\"action\":\"processRecords\",\"millisBehindLatest\":null,\"records\":[");
	for (size_t i = 0; i < n && !m->msg_oom; i++) {
		const struct kls_record *r = &records[i];
		puts_(m,
		    i ? ",{\"action\":\"record\",\"data\":" : "{\"action\":\"record\",\"data\":");
		put_base64(m, r->data, r->data_len);
		puts_(m, ",\"partitionKey\":");
		put_str(m, r->partition_key);
		put_position(m, r->sequence_number, r->sub_sequence_number);
		puts_(m, ",\"approximateArrivalTimestamp\":");
		put_i64(m, r->approximate_arrival_ms);
		puts_(m, "}");
	}
	puts_(m, "]}\n");
	if (m->msg_oom)
		return ml_fail(m, false, "processRecords of %zu records: out of memory", n);
	return exchange(m, "processRecords", ctx);
}

/* {"action":<action>} with nothing more, then the child's answer (see exchange). */
static int
send_action(struct multilang *m, const char *action, struct kls_ctx *ctx)
{
	puts_(m, "{\"action\":\"");
	puts_(m, action);
	puts_(m, "\"}\n");
	return exchange(m, action, ctx);
}

static void
ml_lease_lost(void *state)
{
	struct multilang *m = state;

	/* No checkpointer: a checkpoint request is answered with InvalidStateException. */
	send_action(m, "leaseLost", NULL);
}

static int
ml_shard_ended(void *state, struct kls_ctx *ctx)
{
	struct multilang *m = state;

	return send_action(m, "shardEnded", ctx);
}

static int
ml_shutdown_requested(void *state, struct kls_ctx *ctx)
{
	struct multilang *m = state;

	return send_action(m, "shutdownRequested", ctx);
}

/* Closes the child's stdin and gives it shutdown_timeout_ms to exit, logging what it
 * writes meanwhile; then kills what is left of its process group. */
static void
ml_destroy(void *state)
{
	struct multilang *m = state;
	char status[96];

	if (!m->broken && !m->child.reaped) {
		long long until = ml_now_ms() + m->shutdown_ms;
		ml_child_close_stdin(&m->child);
		while (!ml_child_try_reap(&m->child) && ml_now_ms() < until) {
			struct pollfd p[2];
			int np = 0;
			char *line;
			size_t len;

			if (!m->out.eof)
				p[np++] =
				    (struct pollfd){ .fd = m->child.out_fd, .events = POLLIN };
			if (m->child.err_fd >= 0)
				p[np++] =
				    (struct pollfd){ .fd = m->child.err_fd, .events = POLLIN };
			/* Both pipes closed: only the exit is left to wait for. */
			poll(p, (nfds_t)np, 20);
			drain_stderr(m);
			if (!m->out.eof &&
			    ml_lines_fill(&m->out, m->child.out_fd) == ML_FILL_TOO_LONG)
				m->out.len = m->out.start = 0;
			while ((line = ml_lines_next(&m->out, &len)) != NULL)
				if (len > 0)
					ML_LOG(m, KLS_LOG_INFO,
					    "multilang %s: stdout after the last message: %.*s",
					    m->shard_id,
					    (int)(len < ML_QUOTE_MAX ? len : ML_QUOTE_MAX), line);
		}
		if (!m->child.reaped)
			ML_LOG(m, KLS_LOG_WARN,
			    "multilang %s: child did not exit within %lld ms of its stdin "
			    "closing: killing it",
			    m->shard_id, m->shutdown_ms);
		ml_child_kill(&m->child);
		drain_stderr(m);
		ml_child_describe(&m->child, status, sizeof(status));
		ML_LOG(m, KLS_LOG_INFO, "multilang %s: child ended: %s", m->shard_id, status);
	}
	ml_free(m);
}

KLS_HANDLER_EXPORT const struct kls_handler_v1 kls_handler = {
	KLS_HANDLER_V1_HEADER,
	.name = "multilang",
	.version = PACKAGE_VERSION,
	.init = ml_init,
	.process = ml_process,
	.lease_lost = ml_lease_lost,
	.shard_ended = ml_shard_ended,
	.shutdown_requested = ml_shutdown_requested,
	.destroy = ml_destroy,
};
