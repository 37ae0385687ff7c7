"""Named-entity extraction for Arabic news: PERS, LOC, ORG, MISC (ANERcorp's scheme).

Backend ``rules`` (default, offline, torch-free): one Aho-Corasick pass over the folded body
finds gazetteer names, given names, titles, organisation heads, place cues and stop words, all
with their proclitics; a few Arabic context patterns then turn them into spans:

* title (+ nisba adjectives) + name      الرئيس الروسي فلاديمير بوتين
* given name + name chain               محمد بن راشد آل مكتوم، غيث الطراونة
* organisation head + definite complements   وكالة الأنباء الكورية الشمالية
* place cue + unknown word              محافظة الأنبار
* a bounded memory: names found with strong evidence are recognised again later, alone
  (كيم، بوتين), in the same article and in later ones.

Modules: ``gazetteer`` (lists -> automaton), ``document`` (folded words and their flags),
``persons`` / ``orgs_places`` (patterns), ``memory``, ``rules`` (the extractor), ``crf_*``
(backend ``crf``: a CRF trained on ANERcorp's train split over the rules' own output), ``camel``
(backend ``camel``: camel-tools' AraBERT recognizer), ``backends`` (choosing one).
"""

from processors.entities.backends import BACKENDS, Extractor, get_extractor, make_extractor
from processors.entities.memory import EntityMemory, MemoryItem
from processors.entities.rules import EntityExtractor

__all__ = [
    "BACKENDS",
    "EntityExtractor",
    "EntityMemory",
    "Extractor",
    "MemoryItem",
    "get_extractor",
    "make_extractor",
]
