// Issue 17: `npm start -- --state DIR --volunteers 2` kept its volunteers' keys, receipts and
// autotune choices in ./state, so two relays with different --state shared volunteer
// identities. The paths are computed in two places, both checked here without a process:
// the relay command's spawn of each local volunteer, and the volunteer's own paths.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { localVolunteerSpawn } from '../../../relay/cli/local-volunteers.ts';
import { volunteerPaths } from '../../../web/node/volunteer-paths.ts';

describe('localVolunteerSpawn', () => {
  it("hands each local volunteer the relay's state folder, whatever POTLUCK_STATE said", () => {
    const spawn = localVolunteerSpawn(1, 'http://127.0.0.1:8787', '/srv/relay-b', {
      POTLUCK_STATE: '/srv/relay-a',
      PATH: '/usr/bin',
    });
    expect(spawn.name).toBe('local-2');
    expect(spawn.options.env.POTLUCK_STATE).toBe('/srv/relay-b');
    expect(spawn.options.env.PATH).toBe('/usr/bin');
    expect(spawn.args).toEqual(
      expect.arrayContaining(['--relay', 'http://127.0.0.1:8787', '--name', 'local-2']),
    );
  });
});

describe('volunteerPaths', () => {
  it('keeps a volunteer without --state under the state root, autotune choices too', () => {
    expect(volunteerPaths('local-1', undefined, '/srv/relay-b')).toEqual({
      stateDir: join('/srv/relay-b', 'volunteer', 'local-1'),
      tuneCacheFile: join('/srv/relay-b', 'autotune.json'),
    });
  });

  it('keeps everything of a volunteer with --state inside that folder', () => {
    expect(volunteerPaths('Ada', '/home/ada/potluck', '/srv/relay-b')).toEqual({
      stateDir: '/home/ada/potluck',
      tuneCacheFile: join('/home/ada/potluck', 'autotune.json'),
    });
  });

  it('makes a folder name of any display name', () => {
    expect(volunteerPaths('Ada ../../etc', undefined, '/s').stateDir).toBe(
      join('/s', 'volunteer', 'Ada_______etc'),
    );
  });
});
