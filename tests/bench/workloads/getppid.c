/*
 * Overhead workload (a): 1,000,000 getppid() system calls (or argv[1] of them).
 *
 * A syscall that is not memory-relevant: under mevi it must run at full speed,
 * never stopping for the tracer (target: <= 1.05x of native, start-up included).
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000000;
	long i, sum = 0;

	for (i = 0; i < n; i++)
		sum += syscall(SYS_getppid);
	/* Uses the result so that nothing can be optimised away. */
	return sum == 0 ? 1 : 0;
}
