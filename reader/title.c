/*
 * kls-reader's process title, what ps and top show for it: "kls-reader: <stream>
 * <shard>" while it reads, and " [draining]" appended once klsd has asked it to drain
 * (release, handoff, kls-ctl drain, klsd's SIGTERM, or a lease klsd could not renew in
 * time), so an operator can tell a reader that is finishing up (shutdown_requested,
 * its final checkpoint) from one that is stuck or still reading.
 *
 * setproctitle (libbsd) rewrites the argv area that main() prepared with
 * setproctitle_init, so only the main thread calls this, and only on a change.
 */
#include "config.h"

#include <bsd/unistd.h>

#include "reader/reader.h"

void
reader_title(struct reader *r, bool draining)
{
	/* The leading '-' keeps libbsd from prefixing the program name. */
	setproctitle("-kls-reader: %s %s%s", r->cfg ? r->cfg->kls.stream : "", r->shard_id,
	    draining ? " [draining]" : "");
	r->title_draining = draining;
}
