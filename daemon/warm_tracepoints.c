/* warm_tracepoints — the process-tree tracepoints kept ready (warm_tracepoints.h). */
#include "warm_tracepoints.h"

#include <errno.h>
#include <linux/bpf.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

const char *const warm_tracepoint_names[WARM_TRACEPOINTS_N] = {
    "sched_process_fork",
    "sched_process_exec",
    "sched_process_exit",
};

static int sys_bpf(int cmd, union bpf_attr *attr)
{
	return (int)syscall(SYS_bpf, cmd, attr, sizeof(*attr));
}

int warm_tracepoints_load_empty(void)
{
	static const struct bpf_insn insns[] = {
	    {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0},
	    {.code = BPF_JMP | BPF_EXIT},
	};
	static const char license[] = "Dual MIT/GPL";
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.prog_type = BPF_PROG_TYPE_RAW_TRACEPOINT;
	attr.insns = (uint64_t)(uintptr_t)insns;
	attr.insn_cnt = sizeof(insns) / sizeof(insns[0]);
	attr.license = (uint64_t)(uintptr_t)license;
	memcpy(attr.prog_name, "mevi_warm", sizeof("mevi_warm"));
	int fd = sys_bpf(BPF_PROG_LOAD, &attr);

	return fd < 0 ? -errno : fd;
}

int warm_tracepoints_link(int prog_fd, const char *name)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.raw_tracepoint.name = (uint64_t)(uintptr_t)name;
	attr.raw_tracepoint.prog_fd = (uint32_t)prog_fd;
	int fd = sys_bpf(BPF_RAW_TRACEPOINT_OPEN, &attr);

	return fd < 0 ? -errno : fd;
}

bool warm_tracepoints_started(const struct warm_tracepoints *w)
{
	return w->started;
}

int warm_tracepoints_start(struct warm_tracepoints *w)
{
	int err = 0;

	if (w->started)
		return -EALREADY;
	memset(w, 0, sizeof(*w));
	for (int i = 0; i < WARM_TRACEPOINTS_N; i++)
		for (int k = 0; k < WARM_TRACEPOINTS_LINKS; k++)
			w->link_fds[i][k] = -1;
	w->prog_fd = warm_tracepoints_load_empty();
	if (w->prog_fd < 0) {
		err = w->prog_fd;
		memset(w, 0, sizeof(*w));
		return err;
	}
	w->started = true;
	for (int i = 0; !err && i < WARM_TRACEPOINTS_N; i++) {
		for (int k = 0; !err && k < WARM_TRACEPOINTS_LINKS; k++) {
			w->link_fds[i][k] =
			    warm_tracepoints_link(w->prog_fd, warm_tracepoint_names[i]);
			if (w->link_fds[i][k] < 0)
				err = w->link_fds[i][k];
		}
	}
	if (err)
		warm_tracepoints_stop(w);
	return err;
}

void warm_tracepoints_stop(struct warm_tracepoints *w)
{
	if (!w->started)
		return;
	for (int i = 0; i < WARM_TRACEPOINTS_N; i++)
		for (int k = 0; k < WARM_TRACEPOINTS_LINKS; k++)
			if (w->link_fds[i][k] >= 0)
				close(w->link_fds[i][k]);
	close(w->prog_fd);
	memset(w, 0, sizeof(*w));
}
