/* Python's repr() of a float, for the times of record mode's trace lines
 * (declared in record_lines.h; tests/record/test_lines_c.py checks it against
 * repr() over random doubles). */
#include <stdint.h>
#include <string.h>
#include "record_lines.h"

/* Digits d[0..nd) = 0.DDD x 10^decpt, 1 <= decpt <= 16 (1 <= x < 2^53), laid
 * out as Python's repr(float): no exponent in that range, ".0" when whole. */
static size_t layout(const char *d, size_t nd, int decpt, char *out)
{
	size_t o = 0, ip = (size_t)decpt;
	if (ip >= nd) {
		memcpy(out, d, nd);
		o = nd;
		while (o < ip)
			out[o++] = '0';
		out[o++] = '.';
		out[o++] = '0';
	} else {
		memcpy(out, d, ip);
		out[ip] = '.';
		memcpy(out + ip + 1, d + ip, nd - ip);
		o = nd + 1;
	}
	out[o] = 0;
	return o;
}

/* N / 2^s (N < 2^58, s <= 54) as 16 integer digits, then s fractional ones: exact. */
static void fixed_digits(uint64_t n, int s, char *out)
{
	uint64_t ip = n >> s, f = n & ((1ull << s) - 1);
	for (int i = 15; i >= 0; i--, ip /= 10)
		out[i] = (char)('0' + ip % 10);
	for (int i = 0; i < s; i++) {
		f *= 10;
		out[16 + i] = (char)('0' + (f >> s));
		f &= (1ull << s) - 1;
	}
}

/* x's digits (dx, len of them, the first nonzero at `first`) rounded to p
 * significant digits, down or up, whichever is nearer first: the first of the
 * two inside x's rounding interval (dl, dh; incl: its ends too) goes to d.
 * Returns its digit count, 0 when neither is inside. */
static int p_digits(const char *dx, const char *dl, const char *dh, int len, int first,
		    int incl, int p, char *d, int *decpt)
{
	int cut = first + p, tail = 0, rest = 0;
	char cand[2][72]; /* the nearest p digits first, then the other side */
	memcpy(cand[0], dx, (size_t)len);
	if (cut < len) {
		tail = dx[cut] - '0';
		for (int i = cut + 1; i < len && !rest; i++)
			rest = dx[i] != '0';
		memset(cand[0] + cut, '0', (size_t)(len - cut));
	}
	memcpy(cand[1], cand[0], (size_t)len);
	int up = 1; /* cand[1] = cand[0] one unit up in the last kept digit */
	for (int i = cut - 1; up && i >= 0; i--) {
		up = cand[1][i] == '9';
		cand[1][i] = up ? '0' : (char)(cand[1][i] + 1);
	}
	int nearest_up = tail > 5 || (tail == 5 && (rest || (dx[cut - 1] - '0') % 2));
	int n = tail || rest ? 2 : 1; /* exact at p digits: no other side */
	for (int k = 0; k < n; k++) {
		const char *c = cand[nearest_up ^ k];
		int a = memcmp(c, dl, (size_t)len), b = memcmp(c, dh, (size_t)len);
		if (!((a > 0 || (incl && a == 0)) && (b < 0 || (incl && b == 0))))
			continue;
		int f = 0;
		while (c[f] == '0')
			f++;
		int nd = cut - f;
		while (nd > 1 && c[f + nd - 1] == '0')
			nd--;
		memcpy(d, c + f, (size_t)nd);
		*decpt = 16 - f;
		return nd;
	}
	return 0;
}

/* Shortest round-trip digits of 1 <= x < 2^53 (a time, say) with integers
 * only: the correctly rounded p digits for the smallest p that falls within
 * x's rounding interval. Returns the digit count, 0 outside that range.
 * If p digits fall within the interval, so do p + 1 (the interval holds x,
 * and x rounded to p + 1 digits lies between x and x rounded to p), so the
 * smallest p is found by bisection, after 16 and 15: a time needs 16 or 17
 * digits, and trying each p from 1 cost record mode about a microsecond a
 * line. */
static int short_digits_fast(double x, char *d, int *decpt)
{
	uint64_t bits;
	memcpy(&bits, &x, 8);
	int biased = (int)((bits >> 52) & 0x7ff), exp = biased - 1075;
	if (bits >> 63 || exp < -52 || exp > 0)
		return 0;
	uint64_t frac = bits & ((1ull << 52) - 1), mant = frac | 1ull << 52;
	int s = 2 - exp; /* two more fractional bits: the half gaps below and above */
	uint64_t X = mant << 2, hi = X + 2, lo = frac ? X - 2 : X - 1;
	int len = 16 + s, incl = !(mant & 1); /* a tie rounds to the even mantissa */
	char dx[72], dl[72], dh[72];
	fixed_digits(X, s, dx);
	fixed_digits(lo, s, dl);
	fixed_digits(hi, s, dh);
	int first = 0;
	while (dx[first] == '0')
		first++;
	int pl = 1, ph = len - first < 17 ? len - first : 17, nd = 0;
	char dd[20];
	int dp = 0;
	if (ph == 17) { /* a time's answer is 16 or 17 digits: look there first */
		int got = p_digits(dx, dl, dh, len, first, incl, 16, d, decpt);
		if (!got)
			return p_digits(dx, dl, dh, len, first, incl, 17, d, decpt);
		if (!(nd = p_digits(dx, dl, dh, len, first, incl, 15, dd, &dp)))
			return got;
		ph = 15;
		memcpy(d, dd, (size_t)nd);
		*decpt = dp;
	} else if (ph < 1 || !(nd = p_digits(dx, dl, dh, len, first, incl, ph, d, decpt))) {
		return 0;
	}
	while (pl < ph) { /* p_digits(ph) holds; find the smallest such p */
		int mid = pl + (ph - pl) / 2, got = p_digits(dx, dl, dh, len, first, incl, mid, dd, &dp);
		if (got) {
			ph = mid;
			nd = got;
			memcpy(d, dd, (size_t)got);
			*decpt = dp;
		} else {
			pl = mid + 1;
		}
	}
	return nd;
}

/* x = N / 10^6 rounded (the core's times are whole microseconds): N's digits
 * with the point put in. Below 2^33 doubles are closer than 10^-6, so x's
 * rounding interval is shorter than 10^-6 and holds no other multiple of
 * 10^-6; every other number in it has 7 or more decimals, hence more
 * significant digits, so N / 10^6 is repr's shortest string. 0: x is not such
 * a time. */
static size_t micros(double x, char *out)
{
	if (!(x >= 1 && x < 8589934592.0))
		return 0;
	uint64_t n = (uint64_t)(x * 1e6 + 0.5);
	if ((double)n / 1e6 != x) /* correctly rounded, as reading the digits back is */
		return 0;
	uint64_t ip = n / 1000000, f = n % 1000000;
	char t[24];
	int k = 24, fd = 6;
	while (fd > 1 && f % 10 == 0) {
		f /= 10;
		fd--;
	}
	for (int i = 0; i < fd; i++, f /= 10)
		t[--k] = (char)('0' + f % 10);
	t[--k] = '.';
	do {
		t[--k] = (char)('0' + ip % 10);
		ip /= 10;
	} while (ip);
	memcpy(out, t + k, (size_t)(24 - k));
	out[24 - k] = 0;
	return (size_t)(24 - k);
}

size_t sf_float_repr(double x, char *out, size_t cap)
{
	char d[20];
	int decpt, nd;
	size_t n;
	if (cap >= 40 && (n = micros(x, out)))
		return n;
	if (cap < 40 || !(nd = short_digits_fast(x, d, &decpt)))
		return 0;
	return layout(d, (size_t)nd, decpt, out);
}
