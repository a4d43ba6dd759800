/* containerd's diff v1 service.  Apply and Diff run in sandboxed extract and
 * diff workers; until those roles exist the service answers Unimplemented,
 * which containerd's proxy treats as "use another differ". */
#include "services.h"

void svc_apply(struct call *c)
{
	call_fail(c, ST_UNIMPLEMENTED, "diff service: Apply is not implemented yet");
}

void svc_diff(struct call *c)
{
	call_fail(c, ST_UNIMPLEMENTED, "diff service: Diff is not implemented yet");
}
