// GGUF (llama.cpp / ggml): hardened zero-copy reader, streaming writer, split sets.
#pragma once

#include "edgequant/formats/gguf/format.hpp"
#include "edgequant/formats/gguf/reader.hpp"
#include "edgequant/formats/gguf/split.hpp"
#include "edgequant/formats/gguf/value.hpp"
#include "edgequant/formats/gguf/writer.hpp"
