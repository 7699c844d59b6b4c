/* kls-ctl's command table and dispatch: one row per subcommand, help from the rows. */
#include "config.h"

#include "ctl/ctl.h"

#include <string.h>

static const struct ctl_command commands[] = {
	{ "status", "[-a APP | --shm NAME] [--json | --watch[=SEC]] | --klsd [-a APP | -S PATH]",
	    "shards of this host's klsd, read from shared memory (works while klsd is stopped);"
	    "\n      --watch refreshes with lag and records/s, --klsd asks klsd itself",
	    ctl_cmd_status },
	{ "workers", "[-a APP | -S PATH] [-t SEC]",
	    "workers and their leases, as klsd sees them (asks klsd's control socket)",
	    ctl_cmd_workers },
	{ "release", "[-a APP | -S PATH] [-t SEC] SHARD",
	    "drain one shard's reader, checkpoint, and give its lease up", ctl_cmd_release },
	{ "drain", "[-a APP | -S PATH] [-t SEC]",
	    "hand every lease off, then klsd exits", ctl_cmd_drain },
	{ "reload", "[-a APP | -S PATH] [-t SEC]",
	    "re-read the configuration (as SIGHUP)", ctl_cmd_reload },
	{ "import", "gokini --from-table T [--to-table T | -c FILE] [--dry-run] [--force]",
	    "write kls leases with the checkpoints of a stopped gokini application",
	    ctl_cmd_import },
};

static void
usage(FILE *f)
{
	fprintf(f, "usage: kls-ctl COMMAND [OPTIONS]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %s %s\n      %s\n", commands[i].name, commands[i].args,
		    commands[i].summary);
	fprintf(f, "\nWith one application on the host no -a is needed.\n"
		   "Exit status: 0 ok, 1 error.\n");
}

int
ctl_main(int argc, char **argv, FILE *out, FILE *err)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;

	if (!cmd) {
		usage(err);
		return 1;
	}
	if (!strcmp(cmd, "help") || !strcmp(cmd, "-h") || !strcmp(cmd, "--help")) {
		usage(out);
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(cmd, commands[i].name))
			return commands[i].run(argc - 1, argv + 1, out, err);
	fprintf(err, "kls-ctl: unknown command \"%s\"\n", cmd);
	usage(err);
	return 1;
}
