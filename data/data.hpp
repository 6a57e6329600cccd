#pragma once
/// @file data.hpp
/// @brief Everything of xg::data in one include (`#include <xgrad/data.hpp>`): IDX and CSV files,
/// datasets (Fashion-MNIST among them), the DataLoader and PNG images.
#include "xgrad/data/csv.hpp"
#include "xgrad/data/dataset.hpp"
#include "xgrad/data/idx.hpp"
#include "xgrad/data/image.hpp"
