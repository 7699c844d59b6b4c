/*
 * Logging for every kls process. One destination per process, chosen once in main;
 * messages are formatted into one buffer and written with one write(2) so that lines
 * from klsd and its readers never interleave mid-line on a shared stderr.
 */
#include "config.h"

#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

/*
 * Process-wide log identity: set once in main before any thread starts and only
 * read afterwards, so it needs no lock. The level is read racily by design (a
 * reload may change it; a stale read only logs one line more or less).
 */
static struct {
	char ident[64];
	enum log_target target;
	volatile enum log_level level;
} logstate = { "kls", LOG_TARGET_STDERR, LOG_LEVEL_INFO };

static const char *const level_names[] = { "error", "warning", "info", "debug" };
static const int syslog_prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };

void
log_init(const char *ident, enum log_target target, enum log_level level)
{
	snprintf(logstate.ident, sizeof(logstate.ident), "%s", ident);
	logstate.target = target;
	logstate.level = level;
	if (target == LOG_TARGET_SYSLOG)
		openlog(logstate.ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void
log_set_level(enum log_level level)
{
	logstate.level = level;
}

enum log_level
log_get_level(void)
{
	return logstate.level;
}

int
log_level_parse(const char *s, enum log_level *out)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

void
log_vmsg(enum log_level level, int with_errno, const char *fmt, va_list ap)
{
	int saved_errno = errno;
	char msg[2048];
	int n;

	if (level > logstate.level)
		return;
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(msg))
		n = sizeof(msg) - 1;
	if (with_errno)
		snprintf(msg + n, sizeof(msg) - (size_t)n, ": %s", strerror(saved_errno));

	if (logstate.target == LOG_TARGET_SYSLOG) {
		syslog(syslog_prio[level], "%s", msg);
	} else {
		char line[2304];
		int len;
		if (logstate.target == LOG_TARGET_JOURNAL)
			len = snprintf(line, sizeof(line), "<%d>%s: %s\n", syslog_prio[level],
			    level_names[level], msg);
		else
			len = snprintf(line, sizeof(line), "%s[%ld]: %s: %s\n", logstate.ident,
			    (long)getpid(), level_names[level], msg);
		if (len >= (int)sizeof(line)) {
			len = sizeof(line);
			line[len - 1] = '\n';
		}
		/* One write per line; a short write to stderr is not worth a retry loop. */
		if (write(STDERR_FILENO, line, (size_t)len) < 0) {
			/* nowhere left to report it */
		}
	}
	errno = saved_errno;
}

#define LOG_FN(name, level, with_errno)           \
	void name(const char *fmt, ...)               \
	{                                             \
		va_list ap;                               \
		va_start(ap, fmt);                        \
		log_vmsg(level, with_errno, fmt, ap);     \
		va_end(ap);                               \
	}

LOG_FN(log_debug, LOG_LEVEL_DEBUG, 0)
LOG_FN(log_info, LOG_LEVEL_INFO, 0)
LOG_FN(log_warn, LOG_LEVEL_WARN, 1)
LOG_FN(log_warnx, LOG_LEVEL_WARN, 0)
LOG_FN(log_error, LOG_LEVEL_ERROR, 1)
LOG_FN(log_errorx, LOG_LEVEL_ERROR, 0)

/* An error as log_error/log_errorx, then exit(status). */
#define FATAL_FN(name, with_errno)                              \
	void name(int status, const char *fmt, ...)             \
	{                                                       \
		va_list ap;                                     \
		va_start(ap, fmt);                              \
		log_vmsg(LOG_LEVEL_ERROR, with_errno, fmt, ap); \
		va_end(ap);                                     \
		exit(status);                                   \
	}

FATAL_FN(fatal, 1)
FATAL_FN(fatalx, 0)
