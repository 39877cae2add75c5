// The audio engine's one header: every stage, from WAV bytes to features and augmentation.
#pragma once

#include "dsp/augment.h"
#include "dsp/features.h"
#include "dsp/fft.h"
#include "dsp/finite.h"
#include "dsp/mel.h"
#include "dsp/mfcc.h"
#include "dsp/resample.h"
#include "dsp/standardise.h"
#include "dsp/stft.h"
#include "dsp/stream.h"
#include "dsp/wav.h"
