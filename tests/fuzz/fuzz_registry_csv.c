/*
 * fuzz_registry_csv.c - libFuzzer target for the registry list parser
 * (kt_registry_csv_parse) and the counts over whatever it accepts. Must
 * never crash, leak or hang; an error must always say why and hand back
 * nothing; accepted entries must satisfy the entry invariants, and every
 * definition must count them without failing.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "keten/counts.h"
#include "keten/registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static kt_counts_set_t s;
    kt_registry_entry_t *e = NULL;
    kt_counts_stats_t st;
    size_t n = 0;
    kt_diag_t d = {{0}};

    if (kt_registry_csv_parse(&e, &n, (const char *)data, size, &d) != 0) {
        if (d.msg[0] == '\0' || e != NULL || n != 0)
            abort();
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        int64_t b, x;

        if ((!kt_record_is_bsn(e[i].leerling_id) &&
             !kt_record_is_onderwijsnummer(e[i].leerling_id)) ||
            kt_registry_date_days(e[i].begindatum, &b) != 0 ||
            (e[i].einddatum[0] && (kt_registry_date_days(e[i].einddatum, &x) != 0 || x < b)) ||
            e[i].aanwezigheid_pct < KT_REG_PCT_ABSENT || e[i].aanwezigheid_pct > 100)
            abort();
    }
    for (int k = 0; k < KT_DEF_COUNT; k++) {
        kt_counts_query_t q = {kt_counts_def_name((kt_counts_def_t)k), "2021-2022", "brin", NULL};
        int rc = kt_counts_compute(&s, &st, e, n, &q, &d);

        if ((rc != 0 && rc != KT_ENOENT) || (rc == 0 && st.counted + st.undecided > n))
            abort();
    }
    kt_registry_entries_free(e, n);
    return 0;
}
