// The one CSV parser (stages/lib/io/csv.ts, csv-parse underneath) reads what the stages write and what
// users hand in, and names the file and line when a file is malformed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { csvField, parseCsv, parseCsvRows } from '../../stages/lib/io/csv.js';

test('quoted fields keep commas, doubled quotes and line breaks; fields round-trip through csvField', () => {
  const values = ['plain', 'a,b', 'say "hi"', 'two\nlines', 'cr\r\nlf', '', 3];
  const text = `${values.map(csvField).join(',')}\n`;
  assert.equal(parseCsvRows(text), [values.map(String)]);
});

test('LF, CRLF and CR line endings, mixed in one file; blank lines and a BOM are skipped', () => {
  assert.equal(parseCsvRows('\uFEFFa,b\r\n1,2\n\n3,4\r5,6'), [['a', 'b'], ['1', '2'], ['3', '4'], ['5', '6']]);
  assert.equal(parseCsvRows(''), []);
});

test('records: trimmed header and values, short rows filled with empty strings, blank rows skipped', () => {
  assert.equal(parseCsv(' image , class \n a.jpg , NEUTROPHIL \n   \nb.jpg\n'), [
    { image: 'a.jpg', class: 'NEUTROPHIL' },
    { image: 'b.jpg', class: '' },
  ]);
});

test('a malformed file is refused naming the file and the line', () => {
  assert.throws(() => parseCsvRows('a,b\n1,2\n"open,3\n', 'labels.csv'), /^labels\.csv:3: Quote Not Closed/);
  assert.throws(() => parseCsv('a,b\n"x"y,2\n', 'data/x.csv'), /^data\/x\.csv:2: Invalid Closing Quote/);
});

test.run();
