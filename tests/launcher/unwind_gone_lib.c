/* A library test_unwind_gone's child loads after its unwinder was opened:
 * code the unwinder can only learn of from a newer layout. */
void *unwind_gone_fn(void);

void *unwind_gone_fn(void)
{
	return (void *)unwind_gone_fn;
}
