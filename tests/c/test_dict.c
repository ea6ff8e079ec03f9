/*
 * test_dict.c - checks of the data dictionary lookups (src/core/dict.c).
 *
 * Build and run:  cc -Isrc/core src/core/dict.c tests/c/test_dict.c && ./a.out
 * Exits 0 when every check passes; otherwise prints each failure to stderr
 * and exits 1.  The expected values are what pydicom 3.0.2 answers for the
 * same questions (get_entry, tag_for_keyword, get_private_entry).
 */
#include <stdio.h>
#include <string.h>

#include "rapidicom.h"
#include "check.h"

static int
str_eq(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

/* One rd_dict_find() result against its expected fields. */
static void
expect_tag(uint32_t tag, uint32_t want_tag, uint32_t want_mask,
           const char *vr, const char *vm, const char *keyword,
           const char *name, int retired)
{
    const rd_dict_entry *e = rd_dict_find(tag);

    if (e == NULL) {
        fprintf(stderr, "(%04X,%04X): not found, expected %s\n",
                (unsigned)(tag >> 16), (unsigned)(tag & 0xFFFFu), keyword);
        failures++;
        return;
    }
    if (e->tag != want_tag || e->mask != want_mask || !str_eq(e->vr, vr) ||
        !str_eq(e->vm, vm) || !str_eq(e->keyword, keyword) ||
        !str_eq(e->name, name) || e->retired != retired) {
        fprintf(stderr,
                "(%04X,%04X): got {%08X %08X %s %s %s \"%s\" %d}, "
                "expected {%08X %08X %s %s %s \"%s\" %d}\n",
                (unsigned)(tag >> 16), (unsigned)(tag & 0xFFFFu),
                (unsigned)e->tag, (unsigned)e->mask, e->vr, e->vm,
                e->keyword, e->name, e->retired, (unsigned)want_tag,
                (unsigned)want_mask, vr, vm, keyword, name, retired);
        failures++;
    }
}

static void
expect_unknown(uint32_t tag)
{
    const rd_dict_entry *e = rd_dict_find(tag);

    if (e != NULL) {
        fprintf(stderr, "(%04X,%04X): expected unknown, got %s\n",
                (unsigned)(tag >> 16), (unsigned)(tag & 0xFFFFu), e->keyword);
        failures++;
    }
}

static void
expect_private(const char *creator, uint32_t tag, const char *vr)
{
    const char *got = rd_private_dict_vr(creator, strlen(creator), tag);

    if (vr == NULL ? got != NULL : !str_eq(got, vr)) {
        fprintf(stderr, "private '%s' (%04X,%04X): got %s, expected %s\n",
                creator, (unsigned)(tag >> 16), (unsigned)(tag & 0xFFFFu),
                got ? got : "NULL", vr ? vr : "NULL");
        failures++;
    }
}

static void
test_exact(void)
{
    expect_tag(0x00100010u, 0x00100010u, 0xFFFFFFFFu, "PN", "1",
               "PatientName", "Patient's Name", 0);
    expect_tag(0x00280106u, 0x00280106u, 0xFFFFFFFFu, "US or SS", "1",
               "SmallestImagePixelValue", "Smallest Image Pixel Value", 0);
    expect_tag(0x7FE00010u, 0x7FE00010u, 0xFFFFFFFFu, "OB or OW", "1",
               "PixelData", "Pixel Data", 0);
    /* first and last-but-few entries, and a retired one */
    expect_tag(0x00000000u, 0x00000000u, 0xFFFFFFFFu, "UL", "1",
               "CommandGroupLength", "Command Group Length", 0);
    expect_tag(0x00000001u, 0x00000001u, 0xFFFFFFFFu, "UL", "1",
               "CommandLengthToEnd", "Command Length to End", 1);
    /* an exact entry wins over the 002804x0 repeater it also matches */
    expect_tag(0x00280400u, 0x00280400u, 0xFFFFFFFFu, "LO", "1",
               "TransformLabel", "Transform Label", 1);
}

static void
test_group_length(void)
{
    /* Only the command and meta group lengths are dictionary entries. */
    expect_tag(0x00020000u, 0x00020000u, 0xFFFFFFFFu, "UL", "1",
               "FileMetaInformationGroupLength",
               "File Meta Information Group Length", 0);
    expect_unknown(0x00080000u);
    expect_unknown(0x00100000u);
    expect_unknown(0x00090000u);
}

static void
test_repeaters(void)
{
    expect_tag(0x60023000u, 0x60003000u, 0xFF00FFFFu, "OB or OW", "1",
               "OverlayData", "Overlay Data", 0);
    expect_tag(0x60000010u, 0x60000010u, 0xFF00FFFFu, "US", "1",
               "OverlayRows", "Overlay Rows", 0);
    expect_tag(0x50040010u, 0x50000010u, 0xFF00FFFFu, "US", "1",
               "NumberOfPoints", "Number of Points", 1);
    expect_tag(0x501E3000u, 0x50003000u, 0xFF00FFFFu, "OB or OW", "1",
               "CurveData", "Curve Data", 1);
    expect_tag(0x7F000010u, 0x7F000010u, 0xFF00FFFFu, "OB or OW", "1",
               "VariablePixelData", "Variable Pixel Data", 1);
    expect_tag(0x00280410u, 0x00280400u, 0xFFFFFF0Fu, "US", "1",
               "RowsForNthOrderCoefficients",
               "Rows For Nth Order Coefficients", 1);
    expect_tag(0x10000015u, 0x10000005u, 0xFFFF000Fu, "US", "3",
               "ShiftTableTriplet", "Shift Table Triplet", 1);
    expect_tag(0x10101234u, 0x10100000u, 0xFFFF0000u, "US", "1-n",
               "ZonalMap", "Zonal Map", 1);
    expect_tag(0x002031FFu, 0x00203100u, 0xFFFFFF00u, "CS", "1-n",
               "SourceImageIDs", "Source Image IDs", 1);
    /* pydicom never applies the repeaters to odd (private) groups */
    expect_unknown(0x60013000u);
    expect_unknown(0x50010010u);
    expect_unknown(0x7F010010u);
}

static void
test_unknown(void)
{
    expect_unknown(0x00100011u);
    expect_unknown(0x00090010u);
    expect_unknown(0xFFFFFFFFu);
    expect_unknown(0x60023001u);
    expect_unknown(0xFFFEE001u);
}

static void
test_keywords(void)
{
    const rd_dict_entry *e;
    const char *kw = "PatientNameXYZ";

    e = rd_dict_find_keyword("PatientName", 11);
    CHECK(e != NULL && e->tag == 0x00100010u);
    CHECK(e != NULL && e == rd_dict_find(0x00100010u));
    e = rd_dict_find_keyword("PixelData", 9);
    CHECK(e != NULL && e->tag == 0x7FE00010u);
    e = rd_dict_find_keyword("CommandGroupLength", 18);
    CHECK(e != NULL && e->tag == 0x00000000u);
    /* only `len` bytes count, the rest of the buffer is ignored */
    e = rd_dict_find_keyword(kw, 11);
    CHECK(e != NULL && e->tag == 0x00100010u);

    CHECK(rd_dict_find_keyword(kw, 14) == NULL);
    CHECK(rd_dict_find_keyword(kw, 10) == NULL);
    CHECK(rd_dict_find_keyword("patientname", 11) == NULL);
    CHECK(rd_dict_find_keyword("PatientName\0", 12) == NULL);
    CHECK(rd_dict_find_keyword("", 0) == NULL);
    CHECK(rd_dict_find_keyword(NULL, 0) == NULL);
    /* repeater keywords are not exact entries */
    CHECK(rd_dict_find_keyword("OverlayData", 11) == NULL);
}

/* Every exact entry is found again by tag and, if it has one, by keyword. */
static void
test_iteration(void)
{
    size_t n = rd_dict_count(), i;
    size_t bad = 0;

    CHECK(n > 5000);
    CHECK(rd_dict_at(n) == NULL);
    for (i = 0; i < n; i++) {
        const rd_dict_entry *e = rd_dict_at(i);

        if (e == NULL || e->mask != 0xFFFFFFFFu || rd_dict_find(e->tag) != e ||
            (i > 0 && rd_dict_at(i - 1)->tag >= e->tag) ||
            (e->keyword[0] != '\0' &&
             rd_dict_find_keyword(e->keyword, strlen(e->keyword)) != e)) {
            if (bad++ < 10)
                fprintf(stderr, "entry %zu does not round-trip\n", i);
        }
    }
    if (bad)
        failures++;
}

static void
test_private(void)
{
    /* 'GGGGxxEE' keys ignore the block byte of the element */
    expect_private("GEMS_IDEN_01", 0x00091001u, "LO");
    expect_private("GEMS_IDEN_01", 0x00091101u, "LO");
    expect_private("GEMS_IDEN_01", 0x0009FF01u, "LO");
    /* pydicom does not check the element range: (0009,0001) -> 0009xx01 */
    expect_private("GEMS_IDEN_01", 0x00090001u, "LO");
    expect_private("GEMS_IDEN_01", 0x00081001u, NULL);
    /* '000910xx' can never be looked up, so the creator element is unknown */
    expect_private("GEMS_IDEN_01", 0x00090010u, NULL);
    /* exact 'GGGGEEEE' keys come first, then 'GGGGxxEE' */
    expect_private("ELSCINT1", 0x01F11026u, "FD");
    expect_private("ELSCINT1", 0x01F11126u, "DS");
    expect_private("CANON_MEC_MR3", 0x00290001u, "SQ");
    expect_private("CANON_MEC_MR3", 0x00291001u, NULL);
    /* 'GGxxxxEE' keys: the fallback for the whole 60xx range */
    expect_private("PAPYRUS 3.0", 0x60011010u, "US");
    expect_private("PAPYRUS 3.0", 0x601F10C0u, "SQ");
    expect_private("DLX_LKUP_01", 0x60011001u, "LT");
    /* VR strings as pydicom spells them */
    expect_private("FDMS 1.0", 0x002710A3u, "US or SS");
    expect_private("TOSHIBA_MEC_OT3", 0x70191080u, "OB_OW");
    expect_private("GE ??? From Adantage Review CS", 0x00191030u, "LO");
    /* the creator must match exactly */
    expect_private("GEMS_IDEN_01 ", 0x00091001u, NULL);
    expect_private("GEMS_IDEN_0", 0x00091001u, NULL);
    expect_private("gems_iden_01", 0x00091001u, NULL);
    expect_private(" GEMS_IDEN_01", 0x00091001u, NULL);
    expect_private("NO SUCH CREATOR", 0x00091001u, NULL);
    CHECK(rd_private_dict_vr("GEMS_IDEN_01XYZ", 12, 0x00091001u) != NULL);
    CHECK(rd_private_dict_vr(NULL, 0, 0x00091001u) == NULL);
    CHECK(rd_private_dict_vr("", 0, 0x00091001u) == NULL);
}

int
main(void)
{
    test_exact();
    test_group_length();
    test_repeaters();
    test_unknown();
    test_keywords();
    test_iteration();
    test_private();
    if (failures) {
        fprintf(stderr, "test_dict: %d check(s) failed\n", failures);
        return 1;
    }
    return 0;
}
