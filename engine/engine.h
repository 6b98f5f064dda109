// One include for users of the engine: tensors, autograd, ops, optimizers, checkpoints.
#pragma once

#include "engine/autograd/grad_mode.h"
#include "engine/autograd/node.h"
#include "engine/core/config.h"
#include "engine/core/error.h"
#include "engine/core/rng.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/mask.h"
#include "engine/ops/matmul.h"
#include "engine/ops/nn.h"
#include "engine/ops/formats.h"
#include "engine/ops/quant.h"
#include "engine/ops/reduce.h"
#include "engine/ops/shape.h"
#include "engine/optim/optim.h"
#include "engine/serialization/checkpoint.h"
#include "engine/tensor/tensor.h"
