/* kls-ctl: the program. Everything it does is in libklsctl (ctl.c and the commands). */
#include "config.h"

#include <stdio.h>

#include "ctl/ctl.h"

int
main(int argc, char **argv)
{
	return ctl_main(argc, argv, stdout, stderr);
}
