// The neural-network kernels' one header: every op family of the training engine.
#pragma once

#include "nn/activation.h"
#include "nn/conv.h"
#include "nn/conv_block.h"
#include "nn/dropout.h"
#include "nn/elementwise.h"
#include "nn/gemm.h"
#include "nn/gpu.h"
#include "nn/layout.h"
#include "nn/model_step.h"
#include "nn/optimizer.h"
#include "nn/pool.h"
#include "nn/profile.h"
#include "nn/recurrent.h"
#include "nn/reduce.h"
#include "nn/threadpool.h"
