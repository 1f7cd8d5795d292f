/* The trend of a unit as the status JSON carries it (sampler.c's
 * sampler_write_trend): none, a few samples, the ring wrapping, CPU as
 * percent of one core between samples, and null where a figure is unknown
 * or a new run began. The sampling itself (only while watched) is judged
 * against a real sbxd in tests/observe. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "sampler.h"

static outbuf out;
static service svc;
static sample_ring ring;

static int setup(void **state)
{
    (void)state;
    memset(&svc, 0, sizeof svc);
    memset(&ring, 0, sizeof ring);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    out_free(&out);
    return 0;
}

static const char *trend(void)
{
    out.len = 0;
    sampler_write_trend(&out, &svc);
    out_raw(&out, "", 1);
    assert_false(out.failed);
    return out.p;
}

static void add(int64_t memory, int64_t cpu_us)
{
    uint32_t i = ring.n++ % SAMPLER_RING;
    ring.memory[i] = memory;
    ring.cpu_us[i] = cpu_us;
}

static void no_samples_is_null(void **state)
{
    (void)state;
    assert_string_equal(trend(), ",\"trend\":null");
    svc.samples = &ring;
    assert_string_equal(trend(), ",\"trend\":null");
}

static void cpu_is_percent_of_a_core_between_samples(void **state)
{
    (void)state;
    svc.samples = &ring;
    ring.interval_ms = 2000;
    add(1000, 0);
    assert_string_equal(trend(), ",\"trend\":{\"interval_ms\":2000,\"memory\":[1000],\"cpu_percent\":[]}");
    add(2000, 1000000);   /* 1 s of CPU in 2 s: 50% */
    add(-1, 1500000);     /* 0.5 s: 25%; memory unknown */
    add(3000, 1500123);   /* 0.0062%: rounds down to 0 */
    assert_string_equal(trend(), ",\"trend\":{\"interval_ms\":2000,\"memory\":[1000,2000,null,3000],"
                                 "\"cpu_percent\":[50,25,0]}");
}

static void unknown_or_a_new_run_is_null(void **state)
{
    (void)state;
    svc.samples = &ring;
    ring.interval_ms = 1000;
    add(1, 5000000);
    add(1, 100000);   /* lower: the counter of a new run */
    add(1, -1);       /* not known */
    add(1, 250000);
    add(1, 265000);   /* 15 ms in 1 s: 1.5% */
    assert_string_equal(trend(), ",\"trend\":{\"interval_ms\":1000,\"memory\":[1,1,1,1,1],"
                                 "\"cpu_percent\":[null,null,null,1.5]}");
}

static void the_ring_keeps_the_last_samples_oldest_first(void **state)
{
    (void)state;
    svc.samples = &ring;
    ring.interval_ms = 100;
    for (int i = 0; i < SAMPLER_RING + 7; i++)
        add(i, i * 1000);
    const char *t = trend();
    char want[64];
    snprintf(want, sizeof want, "\"memory\":[7,8,");
    assert_non_null(strstr(t, want));
    snprintf(want, sizeof want, ",%d],", SAMPLER_RING + 6);
    assert_non_null(strstr(t, want));
    const char *cpu = strstr(t, "\"cpu_percent\":[");
    assert_non_null(cpu);
    size_t commas = 0;
    for (const char *p = cpu; *p; p++)
        commas += *p == ',';
    assert_int_equal(commas, SAMPLER_RING - 2);  /* SAMPLER_RING - 1 rates */
    assert_non_null(strstr(cpu, "[1,1,"));       /* 1 ms per 100 ms: 1% */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(no_samples_is_null, setup, teardown),
        cmocka_unit_test_setup_teardown(cpu_is_percent_of_a_core_between_samples, setup, teardown),
        cmocka_unit_test_setup_teardown(unknown_or_a_new_run_is_null, setup, teardown),
        cmocka_unit_test_setup_teardown(the_ring_keeps_the_last_samples_oldest_first, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
