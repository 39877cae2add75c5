// Feature rows made ready for a model: standardised by per-coefficient moments, and mixed pairwise
// (mixup). The batch worker runs these between training steps on a core the steps share, so they are
// vectorised loops rather than JavaScript's (about 2 ms of a 20 ms step, for 32 rows of 301 x 40).
// Their bits are those of the JavaScript definitions they replace, which every saved model was
// trained and scored with: standardised values computed in double and rounded to float once; mixed
// values as two float products and their float sum.
#pragma once
#include <cstddef>
#include <cstdint>

namespace ser {

// values[f * coeffs + c] = (values[f * coeffs + c] - mean[c]) / stddev[c], for every frame f of
// values[0 .. frames * coeffs), in place.
void standardiseFrames(float* values, std::size_t frames, std::size_t coeffs, const float* mean, const float* stddev);

// out row r = own * values row r + other * values row partner[r], each product rounded to float and
// their sum rounded to float, rows of `width` values. out must not overlap values; partner[r] < rows.
void mixRows(const float* values, std::size_t rows, std::size_t width, const int32_t* partner, float own, float other,
             float* out);

}  // namespace ser
