#pragma once
// cereal support for the standard and Boost types state commonly holds, so a
// ValueState<std::string> or MapState<std::string, std::vector<double>> works
// without the user including cereal headers. Include further cereal/types/*
// headers yourself for other types.

#include <ckpt/serial/boost_unordered.hpp>

#include <cereal/types/array.hpp>
#include <cereal/types/chrono.hpp>
#include <cereal/types/deque.hpp>
#include <cereal/types/list.hpp>
#include <cereal/types/map.hpp>
#include <cereal/types/optional.hpp>
#include <cereal/types/set.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/tuple.hpp>
#include <cereal/types/unordered_map.hpp>
#include <cereal/types/unordered_set.hpp>
#include <cereal/types/utility.hpp>
#include <cereal/types/variant.hpp>
#include <cereal/types/vector.hpp>
