#include "roles.h"

#include <string.h>

static const char *const role_names[] = {
    [ROLE_USAGE] = "usage", [ROLE_REMOVE] = "remove", [ROLE_PROBE] = "probe",	  [ROLE_EXTRACT] = "extract",
    [ROLE_DIFF] = "diff",   [ROLE_MOUNT] = "mount",   [ROLE_PUBLISH] = "publish", [ROLE_FEED] = "feed",
};

#define NROLES (sizeof role_names / sizeof role_names[0])

const char *worker_role_name(int role)
{
	if (role <= 0 || role >= (int)NROLES || !role_names[role])
		return "unknown";
	return role_names[role];
}

int worker_role_by_name(const char *name)
{
	for (size_t i = 1; i < NROLES; i++)
		if (role_names[i] && !strcmp(role_names[i], name))
			return (int)i;
	return -1;
}
