// Docker-style names for containers nobody named: adjective_surname.
import { randomInt } from "node:crypto";

const LEFT = ["admiring", "brave", "busy", "clever", "cool", "dazzling", "eager", "elegant", "festive", "focused", "gallant", "happy", "hopeful", "jolly", "keen", "kind", "lucid", "modest", "nifty", "peaceful", "quirky", "relaxed", "serene", "sharp", "stoic", "tender", "upbeat", "vibrant", "wizardly", "zealous"];
const RIGHT = ["babbage", "bohr", "curie", "darwin", "dijkstra", "einstein", "euler", "fermi", "feynman", "galileo", "goodall", "hopper", "hypatia", "kepler", "knuth", "lamarr", "lovelace", "meitner", "newton", "noether", "pascal", "ritchie", "shannon", "tesla", "thompson", "torvalds", "turing", "wozniak", "yonath", "zuse"];

export function randomName(): string {
  return `${LEFT[randomInt(LEFT.length)]}_${RIGHT[randomInt(RIGHT.length)]}`;
}
