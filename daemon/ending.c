/* ending — the names of the ways a session or a process ends (contract: ending.h). */
#include "ending.h"

#include <stddef.h>

const char *ending_name(unsigned how)
{
	static const char *const names[ENDING_COUNT] = {
	    NULL,	 "exited",   "killed", "detached", "launcher_lost", "recording_cut",
	    "untracked", "replaced",
	};

	return how < ENDING_COUNT ? names[how] : NULL;
}

uint8_t ending_from_status(int32_t status)
{
	if (status == -1)
		return ENDING_DETACHED;
	if (status > 128 && status <= 128 + 64)
		return ENDING_KILLED;
	return ENDING_EXITED;
}
